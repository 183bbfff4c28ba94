import { type AuthenticationRequirements, type UserAuthentication, authenticationOf } from '../authenticationContext';
import type { AuthorizationRequest } from '../authorizationRequests';
import { findUnmetRequirement, type UnmetRequirement } from '../checks/findUnmetRequirement';
import type { OAuthContext } from '../context';
import { LoginRequired, type OAuthError, UnmetAuthenticationRequirements } from '../errors';

/** Whether the approving user's sign-in meets what the authorization request asked. */
export type SignInVerdict =
  /** Approve with this authentication (undefined: none recorded and none asked for). */
  | { kind: 'met'; authentication?: UserAuthentication }
  /** The user must sign in again (`login`) or in another way (`acr`); `error` is for the client. */
  | { kind: 'unmet'; requirement: UnmetRequirement; error: OAuthError };

/**
 * Checks the user's last sign-in against the request's `max_age`,
 * `prompt=login` and `acr_values` (issue 14), before the decision: the
 * built-in page signs the user in again rather than fail the request.
 */
export async function checkSignInForRequest(
  ctx: Pick<OAuthContext, 'signIns' | 'clock'>,
  request: AuthorizationRequest,
  userEntityRef: string,
): Promise<SignInVerdict> {
  const signIn = await ctx.signIns.get(userEntityRef);
  return judgeSignIn(request.requirements, signIn && authenticationOf(signIn), ctx.clock());
}

/** Whether a sign-in meets what the request asked: {@link checkSignInForRequest} on what it read. */
export function judgeSignIn(
  requirements: AuthenticationRequirements | undefined,
  authentication: UserAuthentication | undefined,
  now: Date,
): SignInVerdict {
  const requirement = findUnmetRequirement(requirements, authentication, now);
  if (requirement === 'login') {
    return {
      kind: 'unmet',
      requirement,
      error: new LoginRequired('the user has not signed in recently enough for this request'),
    };
  }
  if (requirement === 'acr') {
    const got = authentication?.acr ? `'${authentication.acr}'` : 'no authentication context class';
    return {
      kind: 'unmet',
      requirement,
      error: new UnmetAuthenticationRequirements(
        `the user's sign-in has ${got}, not one of the requested acr_values`,
      ),
    };
  }
  return { kind: 'met', authentication };
}
