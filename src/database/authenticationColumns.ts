import type { UserAuthentication } from '../oauth/authenticationContext';
import { parseDbDate } from './parseDbDate';

/** The columns that describe one authentication, in the tables of issue 14. */
export interface DbAuthenticationColumns {
  auth_time: Date | string | number | null;
  acr: string | null;
  /** JSON array of method names (RFC 8176). */
  amr: string | null;
}

/** An authentication as its columns. */
export function toAuthenticationColumns(authentication: UserAuthentication): DbAuthenticationColumns {
  return {
    auth_time: authentication.authTime,
    acr: authentication.acr ?? null,
    amr: authentication.amr ? JSON.stringify(authentication.amr) : null,
  };
}

/** The authentication the columns hold; undefined when they hold none (no `auth_time`). */
export function fromAuthenticationColumns(
  row: DbAuthenticationColumns,
): UserAuthentication | undefined {
  if (row.auth_time === null || row.auth_time === undefined) return undefined;
  const amr = parseAmr(row.amr);
  return {
    authTime: parseDbDate(row.auth_time),
    ...(row.acr ? { acr: row.acr } : {}),
    ...(amr ? { amr } : {}),
  };
}

function parseAmr(value: string | null): string[] | undefined {
  if (!value) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) && parsed.every(m => typeof m === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}
