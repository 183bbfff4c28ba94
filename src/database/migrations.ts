import { resolvePackagePath } from '@backstage/backend-plugin-api';
import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';

const PACKAGE_NAME = '@portal-oidc/plugin-auth-backend';

/**
 * The `migrations/` folder at the package root, both when the package is
 * installed (resolved through node_modules, like upstream does) and when it
 * runs from its own checkout (jest, the dev backend), where the package is
 * not in any node_modules and is found by walking up from this file.
 */
export function getMigrationsDirectory(): string {
  try {
    return resolvePackagePath(PACKAGE_NAME, 'migrations');
  } catch {
    // Only reached when the package is not installed under node_modules,
    // i.e. in its own checkout, where the source layout is known.
    // eslint-disable-next-line no-restricted-syntax
    for (let dir = __dirname; ; dir = path.dirname(dir)) {
      if (isPackageRoot(dir)) {
        return path.join(dir, 'migrations');
      }
      if (path.dirname(dir) === dir) {
        throw new Error(`Cannot find the migrations of ${PACKAGE_NAME} above ${dir}`);
      }
    }
  }
}

function isPackageRoot(dir: string): boolean {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    return pkg.name === PACKAGE_NAME;
  } catch {
    return false;
  }
}

/**
 * Brings the plugin's database up to date.
 *
 * Uses knex's default bookkeeping tables (`knex_migrations`,
 * `knex_migrations_lock`) and upstream's file names for the shared history, so
 * a database migrated by `@backstage/plugin-auth-backend` is adopted in place.
 * List validation is off because a database touched by a later upstream
 * release has applied migrations that this package does not ship; those are
 * left as they are instead of stopping startup.
 */
export async function applyDatabaseMigrations(knex: Knex): Promise<void> {
  await knex.migrate.latest({
    directory: getMigrationsDirectory(),
    disableMigrationsListValidation: true,
  });
}
