import type { AuditorService, LoggerService } from '@backstage/backend-plugin-api';
import type { SecurityAuditor, SecurityEvent } from '../oauth/model';

const SEVERITY: Record<SecurityEvent['eventId'], 'low' | 'medium' | 'high'> = {
  'client-registered': 'medium',
  'consent-granted': 'low',
  'consent-denied': 'low',
  'device-approved': 'low',
  'device-denied': 'low',
  'code-replayed': 'high',
  'refresh-token-reused': 'high',
  'token-revoked': 'low',
  // Another plugin ended all of a user's refresh tokens (upstream: high, too).
  'offline-sessions-revoked': 'high',
  // A service got a token to act for a user (RFC 8693).
  'token-exchanged': 'medium',
  'rate-limited': 'medium',
};

/**
 * Sends OAuth security events to the framework's auditor. Callers pass ids
 * and names only; token values never reach this function.
 */
export function createSecurityAuditor(
  auditor: AuditorService,
  logger: LoggerService,
): SecurityAuditor {
  return (event: SecurityEvent) => {
    const meta = {
      ...(event.clientId ? { clientId: event.clientId } : {}),
      ...(event.userEntityRef ? { userEntityRef: event.userEntityRef } : {}),
      ...event.meta,
    };
    // Auditing must never fail the request that triggered it.
    auditor
      .createEvent({ eventId: event.eventId, severityLevel: SEVERITY[event.eventId], meta })
      .then(e => e.success())
      .catch(error => logger.warn(`Failed to audit ${event.eventId}`, error));
  };
}
