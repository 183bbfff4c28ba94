// @ts-check

/**
 * Widens `signing_keys.key` to `text`: a serialized JWK (an RSA key in
 * particular) does not fit in 255 characters.
 *
 * SQLite does not enforce varchar lengths and has no ALTER COLUMN, so it is
 * left alone.
 *
 * @param {import('knex').Knex} knex
 */
exports.up = async function up(knex) {
  if (isSqlite(knex)) {
    return;
  }
  await knex.schema.alterTable('signing_keys', table => {
    table.text('key').notNullable().alter({ alterType: true });
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  if (isSqlite(knex)) {
    return;
  }
  // Keys that do not fit in varchar(255) cannot be kept; the key store
  // creates a fresh key when none is left, so dropping them only forces
  // users to sign in again.
  const length = isMysql(knex) ? 'CHAR_LENGTH' : 'LENGTH';
  await knex('signing_keys').whereRaw(`${length}(??) > 255`, ['key']).delete();
  await knex.schema.alterTable('signing_keys', table => {
    table.string('key').notNullable().alter({ alterType: true });
  });
};

/** @param {import('knex').Knex} knex */
function isSqlite(knex) {
  return String(knex.client.config.client).includes('sqlite');
}

/** @param {import('knex').Knex} knex */
function isMysql(knex) {
  return String(knex.client.config.client).includes('mysql');
}
