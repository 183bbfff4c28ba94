import { type ChildProcess, spawn } from 'node:child_process';
import type { JsonObject } from '@backstage/types';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

/** One interactive login the identity provider saw. */
export interface IdentityProviderLogin {
  accountId: string;
  method: 'pwd' | 'otp';
  /** Epoch seconds; the `auth_time` of the ID tokens from this login. */
  authTime: number;
}

/** What {@link startIdentityProvider} returns. */
export interface IdentityProvider {
  /** `http://127.0.0.1:<port>`. */
  issuer: string;
  /** Config for `auth.providers.oidc.development` (the real OIDC provider module). */
  providerConfig(extra?: JsonObject): JsonObject;
  /** Every interactive login so far, oldest first. */
  logins(): Promise<IdentityProviderLogin[]>;
  stop(): Promise<void>;
}

/**
 * Starts the loopback identity provider of identityProvider.mjs (panva's
 * oidc-provider) in a child process and waits until it listens.
 */
export async function startIdentityProvider(): Promise<IdentityProvider> {
  // Test-only code run from source by jest, so __dirname is the source folder.
  // eslint-disable-next-line no-restricted-syntax
  const script = resolve(__dirname, 'identityProvider.mjs');
  const child: ChildProcess = spawn(process.execPath, [script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Its start-up warnings (Node version, in-memory adapter) are expected here; anything else is news.
  createInterface({ input: child.stderr! }).on('line', line => {
    if (!line.startsWith('oidc-provider WARNING')) process.stderr.write(`identity provider: ${line}\n`);
  });
  const issuer = await new Promise<string>((resolveIssuer, reject) => {
    const lines = createInterface({ input: child.stdout! });
    child.once('exit', code => reject(new Error(`identity provider exited with ${code}`)));
    lines.once('line', line => resolveIssuer(JSON.parse(line).issuer));
  });
  return {
    issuer,
    providerConfig: extra => ({
      metadataUrl: `${issuer}/.well-known/openid-configuration`,
      clientId: 'portal',
      clientSecret: 'portal-secret',
      // Every sign-in through the module is an interactive login at the IdP.
      prompt: 'login',
      signIn: { resolvers: [{ resolver: 'emailLocalPartMatchingUserEntityName' }] },
      ...extra,
    }),
    async logins() {
      const res = await fetch(`${issuer}/_test/logins`);
      return (await res.json()) as IdentityProviderLogin[];
    },
    stop: () =>
      new Promise<void>(done => {
        if (child.exitCode !== null) {
          done();
          return;
        }
        child.once('exit', () => done());
        child.kill();
      }),
  };
}
