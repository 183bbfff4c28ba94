import { coreServices, createBackendPlugin } from '@backstage/backend-plugin-api';
import Router from 'express-promise-router';

/**
 * A tiny plugin standing in for any other Backstage plugin; both routes
 * accept only user tokens, verified by the framework's own AuthService
 * (through the auth plugin's JWKS):
 * - `GET /api/whoami/me` reports who the caller is (ownership via the
 *   framework's UserInfoService);
 * - `GET /api/whoami/userinfo` asks the auth plugin's `/v1/userinfo` on the
 *   caller's behalf, as a plugin does with a token from
 *   `auth.getPluginRequestToken({ onBehalfOf })` (its `obo` claim carries the
 *   caller's limited token), and relays the status and body;
 * - `POST /api/whoami/relay/<path>` posts to the auth plugin's `/<path>` on
 *   the caller's behalf the same way (a JSON body, as the consent API takes).
 */
export const whoamiPlugin = createBackendPlugin({
  pluginId: 'whoami',
  register(reg) {
    reg.registerInit({
      deps: {
        httpRouter: coreServices.httpRouter,
        httpAuth: coreServices.httpAuth,
        userInfo: coreServices.userInfo,
        auth: coreServices.auth,
        discovery: coreServices.discovery,
      },
      async init({ httpRouter, httpAuth, userInfo, auth, discovery }) {
        const router = Router();
        router.get('/me', async (req, res) => {
          const credentials = await httpAuth.credentials(req, { allow: ['user'] });
          res.json(await userInfo.getUserInfo(credentials));
        });
        router.get('/userinfo', async (req, res) => {
          const credentials = await httpAuth.credentials(req, { allow: ['user'] });
          const { token } = await auth.getPluginRequestToken({ onBehalfOf: credentials, targetPluginId: 'auth' });
          const upstream = await fetch(`${await discovery.getBaseUrl('auth')}/v1/userinfo`, {
            headers: { authorization: `Bearer ${token}` },
          });
          res.status(upstream.status).type('json').send(await upstream.text());
        });
        router.post('/relay/*', async (req, res) => {
          const credentials = await httpAuth.credentials(req, { allow: ['user'] });
          const { token } = await auth.getPluginRequestToken({ onBehalfOf: credentials, targetPluginId: 'auth' });
          const upstream = await fetch(`${await discovery.getBaseUrl('auth')}${req.path.slice('/relay'.length)}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          });
          res.status(upstream.status).type('json').send(await upstream.text());
        });
        httpRouter.use(router);
      },
    });
  },
});
