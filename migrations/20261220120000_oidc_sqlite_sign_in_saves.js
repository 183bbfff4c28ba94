// @ts-check

/*
 * SQLite only (issue 15): a provider sign-in saves the user's claims in
 * upstream's `user_info` and the sign-in in `oidc_user_sign_ins`. PostgreSQL
 * does both in one statement with a data-modifying CTE, which SQLite lacks;
 * here one INSERT into the view `oidc_user_sign_in_saves` does both, through
 * its INSTEAD OF trigger, as one atomic statement.
 *
 * The trigger writes `user_info` as the plugin's other databases do: not at
 * all when the saved claims are the same and were saved after
 * `user_info_fresh_after`. That column exists only to be written; read
 * back it is null.
 *
 * Nothing on other databases. Upstream never reads the view; `down` drops it.
 */

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  if (knex.client.dialect !== 'sqlite3') return;
  await knex.raw(`
    create view oidc_user_sign_in_saves as
    select u.user_entity_ref, u.user_info, u.updated_at as user_info_updated_at,
           null as user_info_fresh_after,
           s.provider_id, s.auth_time, s.acr, s.amr, s.updated_at
    from user_info u
    join oidc_user_sign_ins s on s.user_entity_ref = u.user_entity_ref`);
  await knex.raw(`
    create trigger oidc_user_sign_in_saves_insert
    instead of insert on oidc_user_sign_in_saves
    begin
      insert into user_info (user_entity_ref, user_info, updated_at)
      select new.user_entity_ref, new.user_info, new.user_info_updated_at
      where not exists (
        select 1 from user_info
        where user_entity_ref = new.user_entity_ref
          and user_info = new.user_info
          and updated_at > new.user_info_fresh_after
      )
      on conflict (user_entity_ref) do update
        set user_info = excluded.user_info, updated_at = excluded.updated_at;
      insert into oidc_user_sign_ins (user_entity_ref, provider_id, auth_time, acr, amr, updated_at)
      values (new.user_entity_ref, new.provider_id, new.auth_time, new.acr, new.amr, new.updated_at)
      on conflict (user_entity_ref) do update
        set provider_id = excluded.provider_id, auth_time = excluded.auth_time,
            acr = excluded.acr, amr = excluded.amr, updated_at = excluded.updated_at;
    end`);
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  if (knex.client.dialect !== 'sqlite3') return;
  await knex.raw('drop trigger if exists oidc_user_sign_in_saves_insert');
  await knex.raw('drop view if exists oidc_user_sign_in_saves');
};
