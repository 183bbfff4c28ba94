import type { AuthenticationRequirements, UserAuthentication } from '../authenticationContext';

/** Which requirement a sign-in fails: it is too old (or missing), or of the wrong class. */
export type UnmetRequirement = 'login' | 'acr';

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

/**
 * Whether the user's last authentication satisfies an authorization
 * request, at `now`. A sign-in during the request (at or after the second
 * it arrived; `auth_time` has whole seconds) satisfies both `prompt=login`
 * and `max_age`: it is the re-authentication they ask for, however long the
 * user then takes to approve (OIDC Core §3.1.2.1).
 */
export function findUnmetRequirement(
  requirements: AuthenticationRequirements | undefined,
  authentication: UserAuthentication | undefined,
  now: Date,
): UnmetRequirement | undefined {
  if (!requirements) return undefined;
  const { maxAgeSeconds, promptLogin, acrValues } = requirements;
  if (promptLogin || maxAgeSeconds !== undefined) {
    if (!authentication) return 'login';
    const authTime = seconds(authentication.authTime);
    const duringRequest = authTime >= seconds(requirements.requestedAt);
    const recentEnough = maxAgeSeconds !== undefined && seconds(now) - authTime <= maxAgeSeconds;
    if (!duringRequest && (promptLogin || !recentEnough)) return 'login';
  }
  if (acrValues && !(authentication?.acr && acrValues.includes(authentication.acr))) {
    return 'acr';
  }
  return undefined;
}
