import type { Knex } from 'knex';
import type express from 'express';
import Router from 'express-promise-router';
import type { RouterOptions } from './createRouter';
import type { Identity } from '../identity/createIdentity';

/** Owned by the OIDC provider work (issue 4): builds stores and mounts oauth/http/createOAuthRouter. */
export async function createOidcProvider(
  _options: RouterOptions & { knex: Knex; baseUrl: string; identity: Identity },
): Promise<{ router: express.Router }> {
  return { router: Router() };
}
