import type { Response } from 'express';
import { displayText } from '../oauth/displayText';
import { html, page } from './html';
import { setPageHeaders } from './pageSecurity';

/** What the authorization endpoint could not accept, as a person should read it. */
export interface AuthorizationErrorView {
  status: number;
  code: string;
  description: string;
}

/**
 * The page a browser gets when `/v1/authorize` refuses a request it will not
 * redirect: the client or redirect URI is unknown, or the client is one
 * anyone could register (RFC 9700 §4.11.2). There is deliberately no link to
 * the client: the point is not to send the user anywhere it chose.
 */
export function renderAuthorizationError(res: Response, error: AuthorizationErrorView): void {
  const nonce = setPageHeaders(res);
  // The description may quote the request, which anyone can craft into a
  // link to this page: shown by the display rules (issue 25 item 7).
  const body = html`
<h1>This sign-in request cannot be completed</h1>
<p class="error">${displayText(error.description)}</p>
<p class="muted">Error code: <code>${error.code}</code>. Go back to the application you came from and
start again; if this keeps happening, tell its publisher.</p>`;
  res.status(error.status).type('html').send(page({ title: 'Sign-in request refused', nonce, body }));
}
