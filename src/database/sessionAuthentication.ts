import type { AuthenticationRequirements, UserAuthentication } from '../oauth/authenticationContext';
import { type DbAuthenticationColumns, toAuthenticationColumns } from './authenticationColumns';

/**
 * `oidc_authorization_authentication`: what a decided authorization request
 * asked of the sign-in, and the authentication that approved it, which the
 * code's exchange puts into the ID token (issue 14). Written by the approval.
 */
export interface DbSessionAuthenticationRow extends DbAuthenticationColumns {
  session_id: string;
  requested_at: Date | string | number | null;
  max_age: number | null;
  /** Boolean; 0/1 on SQLite. */
  prompt_login: boolean | number;
  /** Space-separated. */
  acr_values: string | null;
}

export const SESSION_AUTHENTICATION_TABLE = 'oidc_authorization_authentication';

/** The requirements' columns (all null, or false, when the request had none). */
export function requirementColumns(
  requirements: AuthenticationRequirements | undefined,
): Pick<DbSessionAuthenticationRow, 'requested_at' | 'max_age' | 'prompt_login' | 'acr_values'> {
  return {
    requested_at: requirements?.requestedAt ?? null,
    max_age: requirements?.maxAgeSeconds ?? null,
    prompt_login: requirements?.promptLogin ?? false,
    acr_values: requirements?.acrValues?.join(' ') ?? null,
  };
}

/** An approved session's row: what it asked, and who approved it how. */
export function sessionAuthenticationRow(
  sessionId: string,
  requirements: AuthenticationRequirements | undefined,
  approvedBy: UserAuthentication | undefined,
): DbSessionAuthenticationRow {
  return {
    session_id: sessionId,
    ...requirementColumns(requirements),
    ...(approvedBy ? toAuthenticationColumns(approvedBy) : { auth_time: null, acr: null, amr: null }),
  };
}
