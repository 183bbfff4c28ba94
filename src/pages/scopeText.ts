/** What each scope lets an application do, in words a user understands. */
export const SCOPE_TEXT: Readonly<Record<string, string>> = {
  openid: 'Sign you in with your portal identity',
  profile: 'See your name and picture',
  email: 'See your email address',
  offline_access: 'Stay signed in (refresh tokens)',
};
