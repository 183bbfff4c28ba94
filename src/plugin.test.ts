import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import request from 'supertest';
import authPlugin from '.';

describe('authPlugin', () => {
  it('starts in a test backend and answers unknown paths with a Backstage 404', async () => {
    const { server } = await startTestBackend({
      features: [
        authPlugin,
        mockServices.rootConfig.factory({
          data: { app: { baseUrl: 'http://localhost:3000' } },
        }),
      ],
    });
    const res = await request(server).get('/api/auth/no-such-thing');
    expect(res.status).toBe(404);
  });
});
