import type { Knex } from 'knex';
import type express from 'express';
import Router from 'express-promise-router';
import type { RouterOptions } from '../service/createRouter';

/** Owned by the identity work (issue 3): key store, token issuer, user info, JWKS + userinfo routes. */
export interface Identity {
  router: express.Router;
}

export async function createIdentity(
  _options: RouterOptions & { knex: Knex; baseUrl: string },
): Promise<Identity> {
  return { router: Router() };
}
