import { mockServices } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import { warnIfEveryProxyIsTrusted } from './warnIfEveryProxyIsTrusted';

function warningsFor(backend: JsonObject | undefined): string[] {
  const logger = mockServices.logger.mock();
  const config = mockServices.rootConfig({ data: backend ? { backend } : {} });
  warnIfEveryProxyIsTrusted(config, logger);
  return logger.warn.mock.calls.map(([message]) => String(message));
}

describe('warnIfEveryProxyIsTrusted', () => {
  it('warns when every proxy is trusted, naming the safer settings', () => {
    const warnings = warningsFor({ trustProxy: true });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^backend\.trustProxy is true: .*any client can claim any address/);
    expect(warnings[0]).toMatch(/the number of proxies in front of the backend \(e\.g\. 1\), or to their addresses or subnets/);
  });

  it.each([
    ['unset', undefined],
    ['false', { trustProxy: false }],
    ['a hop count', { trustProxy: 1 }],
    ['a list of subnets', { trustProxy: 'loopback, 10.0.0.0/8' }],
    ['an array of addresses', { trustProxy: ['10.1.2.3', '10.1.2.4'] }],
  ])('stays quiet when trustProxy is %s', (_name, backend) => {
    expect(warningsFor(backend)).toEqual([]);
  });
});
