import type { Knex } from 'knex';

/**
 * `oidc_grants`: what a user gave an OAuth client (issue 25 items 3, 4): one
 * row per consent session or refresh-token family that issued tokens or was
 * revoked. A revocation is kept until `expires_at`, when no token the grant
 * produced can still be valid; the row is also what rotating and revoking a
 * family lock, in turn.
 */
export interface DbGrantRow {
  id: string;
  client_id: string;
  user_entity_ref: string;
  created_at: Date | string | number;
  last_used_at?: Date | string | number | null;
  revoked_at: Date | string | number | null;
  expires_at: Date | string | number;
}

export const GRANTS_TABLE = 'oidc_grants';

/**
 * Records a grant unless it is recorded already (then its row is left as it
 * is), and either way holds its row's lock until the transaction ends. An
 * upsert that changes nothing, rather than an insert that ignores the
 * conflict: that would take a shared lock on an existing row (MySQL), and
 * two transactions upgrading theirs to write would deadlock.
 */
export async function lockGrant(db: Knex, row: DbGrantRow): Promise<void> {
  await db(GRANTS_TABLE).insert(row).onConflict('id').merge(['id']);
}

/** `expires_at` moved to `date` if that is later: a grant's record is never shortened. */
export function laterOf(db: Knex, date: Date): Knex.Raw {
  return db.raw('case when expires_at < ? then ? else expires_at end', [date, date]);
}
