import express from 'express';
import request from 'supertest';
import { parseAddress, requestAddress } from './requestAddress';

describe('parseAddress', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8::0001', '2001:db8::1'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:cb00:7107', '203.0.113.7'],
    ['64:ff9b::203.0.113.7', '64:ff9b::cb00:7107'],
    ['fe80::1%eth0', 'fe80::1'],
    [`fe80::1%${'a'.repeat(100)}`, 'fe80::1'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ])('reads %s as %s', (text, address) => {
    expect(parseAddress(text)).toBe(address);
  });

  it.each([
    undefined,
    '',
    'unknown',
    '<script>alert(1)</script>',
    'fe80::1%<b>',
    '\u202e4.3.2.1',
    ' 203.0.113.7',
    '203.0.113.7:8080',
    '[2001:db8::1]',
    '[2001:db8::1]:443',
    '203.0.113.07',
    '203.0.113.256',
    '1'.repeat(100),
  ])('takes %j for no address', text => {
    expect(parseAddress(text)).toBeUndefined();
  });
});

describe('requestAddress', () => {
  // `trust proxy: true`, as with backend.trustProxy: true: req.ip is the first X-Forwarded-For entry.
  const app = express()
    .set('trust proxy', true)
    .get('/', (req, res) => {
      res.json({ ip: req.ip, address: requestAddress(req) ?? null });
    });

  it('uses a forwarded IP address, in canonical form', async () => {
    const res = await request(app).get('/').set('x-forwarded-for', '2001:DB8::7, 10.0.0.1');
    expect(res.body).toEqual({ ip: '2001:DB8::7', address: '2001:db8::7' });
  });

  it('uses the connection’s address when what was forwarded is not one', async () => {
    const res = await request(app).get('/').set('x-forwarded-for', '<script>, 10.0.0.1');
    expect(res.body.ip).toBe('<script>');
    expect(res.body.address).toMatch(/^(127\.0\.0\.1|::1)$/);
  });
});
