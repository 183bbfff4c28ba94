import {
  ConsentRequired,
  InvalidRequest,
  LoginRequired,
  UnmetAuthenticationRequirements,
} from '../errors';
import { checkAuthenticationRequest, MAX_MAX_AGE_SECONDS } from './checkAuthenticationRequest';
import { findUnmetRequirement } from './findUnmetRequirement';

const now = new Date('2026-12-10T12:00:00.700Z');
const builtin = { canReauthenticate: true, acrValuesSupported: ['urn:loa:1', 'urn:loa:2'] };
const appPage = { ...builtin, canReauthenticate: false };

describe('checkAuthenticationRequest', () => {
  it('asks nothing of a request without prompt, max_age or acr_values', () => {
    expect(checkAuthenticationRequest({ prompt: 'consent' }, builtin, now)).toBeUndefined();
  });

  it('reads prompt=login, max_age and acr_values', () => {
    expect(
      checkAuthenticationRequest(
        { prompt: 'login consent', max_age: '300', acr_values: 'urn:loa:2 urn:other urn:loa:2' },
        builtin,
        now,
      ),
    ).toEqual({ requestedAt: now, promptLogin: true, maxAgeSeconds: 300, acrValues: ['urn:loa:2', 'urn:other'] });
  });

  it('keeps max_age=0, which asks for a sign-in during the request (OIDC Core §3.1.2.1)', () => {
    expect(checkAuthenticationRequest({ max_age: '0' }, appPage, now)).toEqual({
      requestedAt: now,
      promptLogin: false,
      maxAgeSeconds: 0,
    });
  });

  it('caps a max_age too long for its column', () => {
    expect(checkAuthenticationRequest({ max_age: '999999999999' }, builtin, now)?.maxAgeSeconds).toBe(
      MAX_MAX_AGE_SECONDS,
    );
  });

  it.each(['', '-1', '1.5', '1e3', ' 1', '0x10', '1234567890123'])('refuses max_age %j', maxAge => {
    expect(() => checkAuthenticationRequest({ max_age: maxAge }, builtin, now)).toThrow(
      new InvalidRequest('max_age must be a whole number of seconds'),
    );
  });

  it('refuses prompt=login where the consent page cannot ask for a sign-in', () => {
    expect(() => checkAuthenticationRequest({ prompt: 'login' }, appPage, now)).toThrow(LoginRequired);
  });

  it('still answers prompt=none with consent_required, alone or refused in company', () => {
    expect(() => checkAuthenticationRequest({ prompt: 'none' }, builtin, now)).toThrow(ConsentRequired);
    expect(() => checkAuthenticationRequest({ prompt: 'none login' }, builtin, now)).toThrow(
      new InvalidRequest("prompt 'none' must not be combined with other values"),
    );
  });

  it('refuses acr_values none of which any sign-in can have, instead of ignoring them', () => {
    expect(() => checkAuthenticationRequest({ acr_values: 'urn:loa:9' }, builtin, now)).toThrow(
      new UnmetAuthenticationRequirements('acr_values cannot be met; supported values are: urn:loa:1 urn:loa:2'),
    );
    expect(() =>
      checkAuthenticationRequest({ acr_values: 'urn:loa:1' }, { ...builtin, acrValuesSupported: [] }, now),
    ).toThrow(
      new UnmetAuthenticationRequirements(
        'acr_values cannot be met: this server passes on no authentication context class',
      ),
    );
  });
});

describe('findUnmetRequirement', () => {
  const requestedAt = new Date('2026-12-10T12:00:00.700Z');
  const at = (secondsAfterRequest: number) => new Date(requestedAt.getTime() + secondsAfterRequest * 1000);
  const signIn = (secondsAfterRequest: number, acr?: string) => ({ authTime: at(secondsAfterRequest), acr });

  it('is met when nothing is required, even without a recorded sign-in', () => {
    expect(findUnmetRequirement(undefined, undefined, at(0))).toBeUndefined();
  });

  it('needs a sign-in in the same second as the request or later for prompt=login', () => {
    const required = { requestedAt, promptLogin: true };
    // auth_time has whole seconds: 12:00:00.000 counts for a request at 12:00:00.700.
    expect(findUnmetRequirement(required, signIn(-0.7), at(30))).toBeUndefined();
    expect(findUnmetRequirement(required, signIn(-1), at(1))).toBe('login');
    expect(findUnmetRequirement(required, undefined, at(1))).toBe('login');
  });

  it('accepts a sign-in within max_age, or one made during the request however long ago', () => {
    const required = { requestedAt, promptLogin: false, maxAgeSeconds: 60 };
    expect(findUnmetRequirement(required, signIn(-59), at(0))).toBeUndefined();
    expect(findUnmetRequirement(required, signIn(-61), at(0))).toBe('login');
    // Signed in again for this request, then read the consent page for two minutes.
    expect(findUnmetRequirement(required, signIn(5), at(125))).toBeUndefined();
  });

  it('needs the sign-in’s acr to be one of acr_values', () => {
    const required = { requestedAt, promptLogin: false, acrValues: ['urn:loa:2'] };
    expect(findUnmetRequirement(required, signIn(-100, 'urn:loa:2'), at(0))).toBeUndefined();
    expect(findUnmetRequirement(required, signIn(-100, 'urn:loa:1'), at(0))).toBe('acr');
    expect(findUnmetRequirement(required, signIn(-100), at(0))).toBe('acr');
    expect(findUnmetRequirement(required, undefined, at(0))).toBe('acr');
  });

  it('asks for a sign-in first when both freshness and acr fall short', () => {
    const required = { requestedAt, promptLogin: true, acrValues: ['urn:loa:2'] };
    expect(findUnmetRequirement(required, signIn(-5, 'urn:loa:1'), at(0))).toBe('login');
  });
});
