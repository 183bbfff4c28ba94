import type { Knex } from 'knex';
import type express from 'express';
import Router from 'express-promise-router';
import type { RouterOptions } from '../service/createRouter';
import type { Identity } from '../identity/createIdentity';

/** Owned by the identity work (issue 3): /:provider/start, handler/frame, refresh, logout; 404s. */
export async function createProvidersRouter(
  _options: RouterOptions & { knex: Knex; baseUrl: string; identity: Identity },
): Promise<express.Router> {
  return Router();
}
