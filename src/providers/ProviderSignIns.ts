import { AsyncLocalStorage } from 'node:async_hooks';
import type { LoggerService } from '@backstage/backend-plugin-api';
import type { Request, Response } from 'express';
import type { SignInRecord, UserSignInStore } from '../oauth/authenticationContext';
import { authenticationFromIdToken, providerIdTokenOf, webMessageOf } from './providerIdToken';

/**
 * How a provider route came to issue a user token:
 * - `sign-in`: an OAuth provider's sign-in round trip completed (its frame
 *   handler), so the user just authenticated at the provider;
 * - `session-refresh`: an OAuth provider's session was refreshed with the
 *   framework's refresh-token cookie: no new authentication;
 * - `proxy-sign-in`: a provider that authenticates every call (guest,
 *   oauth2-proxy, …): its refresh is its sign-in.
 */
export type ProviderSignInKind = 'sign-in' | 'session-refresh' | 'proxy-sign-in';

/** One provider route call in progress. */
interface ProviderCall {
  providerId: string;
  kind: ProviderSignInKind;
  /** Whose token the call issued, and the sign-in record it left. */
  userEntityRef?: string;
  record?: SignInRecord;
  /** Recording what the response showed; the response waits for it. */
  pending?: Promise<void>;
}

/**
 * Records each user's last sign-in through a provider (issue 14): when
 * (`auth_time`) and how (`acr`, `amr`). The providers router runs every
 * frame and refresh handler through {@link ProviderSignIns.run}, so the
 * resolver context's `issueToken` knows which kind of call it serves. The
 * provider modules are opaque, but the framework's route handlers put the
 * provider's ID token, from their own back-channel exchange in this
 * process, into their response (`providerInfo.idToken`); its `auth_time`,
 * `acr` and `amr` are recorded before the response leaves.
 */
export class ProviderSignIns {
  readonly #store: UserSignInStore;
  readonly #logger: LoggerService;
  readonly #clock: () => Date;
  readonly #calls = new AsyncLocalStorage<ProviderCall>();
  /** Provider calls running now; while none is, {@link ProviderSignIns.#calls} is disabled. */
  #running = 0;

  static create(options: {
    store: UserSignInStore;
    logger: LoggerService;
    clock?: () => Date;
  }): ProviderSignIns {
    return new ProviderSignIns(options.store, options.logger, options.clock ?? (() => new Date()));
  }

  private constructor(store: UserSignInStore, logger: LoggerService, clock: () => Date) {
    this.#store = store;
    this.#logger = logger;
    this.#clock = clock;
  }

  /** Runs a provider's frame or refresh handler, attributing the tokens it issues. */
  async run(
    providerId: string,
    route: 'frame' | 'refresh',
    req: Request,
    res: Response,
    handler: () => Promise<void>,
  ): Promise<void> {
    const call: ProviderCall = { providerId, kind: signInKind(providerId, route, req) };
    // A proxy's providerInfo comes from request headers: never read it.
    if (call.kind !== 'proxy-sign-in') this.#watchResponse(call, route, res);
    this.#running++;
    try {
      await this.#calls.run(call, handler);
      await call.pending;
    } finally {
      if (--this.#running === 0) {
        // On Node 20 an enabled AsyncLocalStorage keeps async hooks on for
        // the whole process, which about doubles the cost of every await in
        // every request (issue 15). With no provider call left to attribute,
        // it is switched off; the next run() switches it on again.
        this.#calls.disable();
      }
    }
  }

  /**
   * The sign-in record that the token the resolver context is about to
   * issue for the user makes, for it to be saved with the user's claims: a
   * sign-in is recorded as happening now (until the provider says when). A
   * session refresh, or a token issued outside any provider call, makes none.
   */
  signInFor(userEntityRef: string): SignInRecord | undefined {
    const call = this.#calls.getStore();
    if (!call || call.kind === 'session-refresh') return undefined;
    return this.#signInNow(call, userEntityRef);
  }

  /**
   * Called by the resolver context once it issued a token for the user,
   * with the record {@link ProviderSignIns.signInFor} made if it was saved
   * along; a sign-in without one is recorded now. A session refresh keeps
   * the recorded sign-in.
   */
  async tokenIssued(userEntityRef: string, saved?: SignInRecord): Promise<void> {
    const call = this.#calls.getStore();
    if (!call) return;
    call.userEntityRef = userEntityRef;
    if (call.kind === 'session-refresh') {
      call.record = await this.#store.get(userEntityRef);
      return;
    }
    call.record = saved ?? this.#signInNow(call, userEntityRef);
    if (!saved) await this.#store.save(call.record);
  }

  #signInNow(call: ProviderCall, userEntityRef: string): SignInRecord {
    return { userEntityRef, providerId: call.providerId, authTime: this.#clock() };
  }

  /** Makes the response wait until what it shows of the provider's ID token is recorded. */
  #watchResponse(call: ProviderCall, route: 'frame' | 'refresh', res: Response): void {
    if (route === 'refresh') {
      const json = res.json.bind(res);
      res.json = (body: unknown) => {
        call.pending = this.#recordFromIdToken(call, providerIdTokenOf(body)).then(() => {
          json(body);
        });
        return res;
      };
      return;
    }
    // The popup flow's frame handler answers with a page that posts the result.
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    res.end = ((...args: unknown[]) => {
      const message = webMessageOf(args[0]);
      if (!message) return end(...args);
      call.pending = this.#recordFromIdToken(call, providerIdTokenOf(message)).then(() => {
        end(...args);
      });
      return res;
    }) as Response['end'];
  }

  async #recordFromIdToken(call: ProviderCall, idToken: string | undefined): Promise<void> {
    if (!idToken || !call.userEntityRef) return;
    try {
      const fromProvider = authenticationFromIdToken(idToken, this.#clock());
      const base = call.record;
      const authTime = fromProvider.authTime ?? base?.authTime;
      if (!authTime) return;
      const record: SignInRecord = {
        userEntityRef: call.userEntityRef,
        providerId: call.providerId,
        authTime,
        // A refreshed ID token may leave out how the user authenticated; a new sign-in may not.
        ...(call.kind === 'session-refresh' ? { acr: base?.acr, amr: base?.amr } : {}),
        ...(fromProvider.acr !== undefined ? { acr: fromProvider.acr } : {}),
        ...(fromProvider.amr !== undefined ? { amr: fromProvider.amr } : {}),
      };
      if (!base || !sameSignIn(base, record)) await this.#store.save(record);
    } catch (error) {
      // The sign-in itself succeeded; a record left older only asks for a sign-in sooner.
      this.#logger.warn(`Could not record how ${call.userEntityRef} signed in: ${error}`);
    }
  }
}

/** The framework's OAuth handlers keep a provider session in `<provider>-refresh-token`. */
function signInKind(providerId: string, route: 'frame' | 'refresh', req: Request): ProviderSignInKind {
  if (route === 'frame') return 'sign-in';
  const cookie: unknown = req.cookies?.[`${providerId}-refresh-token`];
  return typeof cookie === 'string' && cookie !== '' ? 'session-refresh' : 'proxy-sign-in';
}

function sameSignIn(a: SignInRecord, b: SignInRecord): boolean {
  return (
    a.providerId === b.providerId &&
    Math.floor(a.authTime.getTime() / 1000) === Math.floor(b.authTime.getTime() / 1000) &&
    a.acr === b.acr &&
    JSON.stringify(a.amr) === JSON.stringify(b.amr)
  );
}
