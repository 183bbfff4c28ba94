// @ts-check

/*
 * Grants (issue 25 items 3 and 4): what a user gave an OAuth client, one row
 * per authorization or refresh-token family, so that revoking it is a fact
 * kept as long as any token it produced can live (`expires_at`), and so that
 * rotating and revoking a family take turns on one row (the rotation locks
 * it and checks it is not revoked; the revocation locks it first).
 *
 * Backfill: a grant for every refresh-token family already stored, revoked
 * when any of its tokens was; and a revoked grant for every consent session
 * an older version marked `expired` because its code was replayed.
 */

/** Access tokens live at most this long (auth.backstageTokenExpiration's upper bound). */
const MAX_ACCESS_TOKEN_SECONDS = 24 * 60 * 60;
const BATCH = 500;

/** @param {unknown} value */
const toDate = value => (value instanceof Date ? value : new Date(/** @type {string | number} */ (value)));
/** @param {unknown} value */
const afterAccessTokens = value => new Date(toDate(value).getTime() + MAX_ACCESS_TOKEN_SECONDS * 1000);

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.createTable('oidc_grants', table => {
    table.comment('Grants users gave OAuth clients; a revocation is kept while any of their tokens can live');
    table.string('id', 255).primary().notNullable().comment('the consent session or refresh-token family');
    table.string('client_id', 255).notNullable();
    table.string('user_entity_ref', 255).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('last_used_at', { useTz: true }).nullable();
    table.timestamp('revoked_at', { useTz: true }).nullable();
    table
      .timestamp('expires_at', { useTz: true })
      .notNullable()
      .comment('after this no token of the grant can be valid');
    table.index(['user_entity_ref'], 'oidc_grants_user_entity_ref_idx');
    table.index(['expires_at'], 'oidc_grants_expires_at_idx');
  });

  const now = new Date();
  const families = await knex('oidc_refresh_tokens')
    .select('family_id')
    .min({ client_id: 'client_id', user_entity_ref: 'user_entity_ref', created_at: 'created_at' })
    .max({ family_expires_at: 'family_expires_at' })
    .groupBy('family_id');
  const revoked = new Set(
    await knex('oidc_refresh_tokens').distinct('family_id').where({ status: 'revoked' }).pluck('family_id'),
  );
  const rows = families.map(family => ({
    id: family.family_id,
    client_id: family.client_id,
    user_entity_ref: family.user_entity_ref,
    created_at: toDate(family.created_at),
    revoked_at: revoked.has(family.family_id) ? now : null,
    expires_at: afterAccessTokens(family.family_expires_at),
  }));
  const replayed = await knex('oauth_authorization_sessions')
    .where({ status: 'expired' })
    .whereNotNull('user_entity_ref')
    .select('id', 'client_id', 'user_entity_ref', 'expires_at');
  const familyIds = new Set(rows.map(row => row.id));
  for (const session of replayed) {
    if (familyIds.has(session.id)) continue;
    rows.push({
      id: session.id,
      client_id: session.client_id,
      user_entity_ref: session.user_entity_ref,
      created_at: toDate(session.expires_at),
      revoked_at: now,
      expires_at: afterAccessTokens(session.expires_at),
    });
  }
  for (let i = 0; i < rows.length; i += BATCH) {
    await knex('oidc_grants').insert(rows.slice(i, i + BATCH));
  }
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('oidc_grants');
};
