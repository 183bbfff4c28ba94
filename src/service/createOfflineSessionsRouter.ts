import type { HttpAuthService } from '@backstage/backend-plugin-api';
import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import { InputError } from '@backstage/errors';
import express from 'express';
import Router from 'express-promise-router';
import { findForbiddenCharacter } from '../oauth/http/findForbiddenCharacter';
import type { Clock, SecurityAuditor } from '../oauth/model';
import type { RefreshTokenStore } from '../oauth/stores';

/** Where upstream 0.31 serves the revocation, relative to the plugin. */
export const OFFLINE_SESSIONS_REVOKE_PATH = '/v1/offline-sessions/revoke';

/** What {@link createOfflineSessionsRouter} needs; nothing more. */
export interface OfflineSessionsRouterDeps {
  httpAuth: HttpAuthService;
  refreshTokens: Pick<RefreshTokenStore, 'revokeAllForUser'>;
  /** Upstream's `offline_sessions`, in a database adopted from it. */
  upstreamSessions: { deleteForUser(userEntityRef: string): Promise<number> };
  audit: SecurityAuditor;
  clock: Clock;
}

/**
 * `POST /v1/offline-sessions/revoke`, as in upstream 0.31 (issue 13): a
 * backend plugin, with its own service credentials, ends every refresh token
 * of a user, e.g. when they leave. Body `{ userEntityRef }`, JSON or form; a
 * ref without a kind names a user. Answers `{ revokedCount }`.
 *
 * A Backstage-format API: errors are `@backstage/errors` for the framework
 * to write, so this router sits beside, not inside, the OAuth router. Mount
 * it only while refresh tokens are enabled; otherwise the path is a 404.
 */
export function createOfflineSessionsRouter(deps: OfflineSessionsRouterDeps): express.Router {
  const router = Router();
  router.post(
    OFFLINE_SESSIONS_REVOKE_PATH,
    requireServiceCredentials(deps.httpAuth),
    express.json({ limit: '1kb' }),
    express.urlencoded({ extended: false, limit: '1kb' }),
    async (req, res) => {
      const userEntityRef = readUserEntityRef(req.body);
      const revoked = await deps.refreshTokens.revokeAllForUser(userEntityRef, deps.clock());
      const upstreamDeleted = await deps.upstreamSessions.deleteForUser(userEntityRef);
      const revokedCount = revoked + upstreamDeleted;
      deps.audit({
        eventId: 'offline-sessions-revoked',
        userEntityRef,
        meta: { revokedCount, upstreamOfflineSessionsDeleted: upstreamDeleted, caller: res.locals.caller },
      });
      res.setHeader('Cache-Control', 'no-store');
      res.json({ revokedCount });
    },
  );
  return router;
}

/**
 * Only another backend plugin may call: the framework answers a missing or
 * bad token with 401 and a user's token (an OAuth client's included) with 403.
 * Runs before the body is parsed, so anonymous bodies cost nothing.
 */
function requireServiceCredentials(httpAuth: HttpAuthService): express.RequestHandler {
  return async (req, res, next) => {
    const credentials = await httpAuth.credentials(req, { allow: ['service'] });
    res.locals.caller = credentials.principal.subject;
    next();
  };
}

/** The canonical ref of the user the body names (upstream: default kind `user`). */
function readUserEntityRef(body: unknown): string {
  const raw = (body as { userEntityRef?: unknown } | undefined)?.userEntityRef;
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new InputError("userEntityRef is required: a user entity ref such as 'user:default/jane'");
  }
  const problem = findForbiddenCharacter(raw);
  if (problem) {
    throw new InputError(`userEntityRef contains ${problem}`);
  }
  let ref: ReturnType<typeof parseEntityRef>;
  try {
    ref = parseEntityRef(raw, { defaultKind: 'user' });
  } catch (error) {
    throw new InputError(`userEntityRef is not an entity ref: ${(error as Error).message}`);
  }
  if (ref.kind.toLocaleLowerCase('en-US') !== 'user') {
    throw new InputError(`userEntityRef must refer to a user entity, not '${raw}'`);
  }
  return stringifyEntityRef(ref);
}
