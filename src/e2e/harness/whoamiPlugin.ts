import { coreServices, createBackendPlugin } from '@backstage/backend-plugin-api';
import Router from 'express-promise-router';

/**
 * A tiny plugin standing in for any other Backstage plugin: `GET /api/whoami/me`
 * accepts only user tokens, verified by the framework's own AuthService
 * (through the auth plugin's JWKS), and reports who the caller is.
 */
export const whoamiPlugin = createBackendPlugin({
  pluginId: 'whoami',
  register(reg) {
    reg.registerInit({
      deps: {
        httpRouter: coreServices.httpRouter,
        httpAuth: coreServices.httpAuth,
        userInfo: coreServices.userInfo,
      },
      async init({ httpRouter, httpAuth, userInfo }) {
        const router = Router();
        router.get('/me', async (req, res) => {
          const credentials = await httpAuth.credentials(req, { allow: ['user'] });
          res.json(await userInfo.getUserInfo(credentials));
        });
        httpRouter.use(router);
      },
    });
  },
});
