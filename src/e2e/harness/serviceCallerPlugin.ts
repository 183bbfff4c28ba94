import { coreServices, createBackendPlugin } from '@backstage/backend-plugin-api';
import express from 'express';
import Router from 'express-promise-router';

/**
 * A stand-in for a backend plugin that calls the auth plugin as itself:
 * `POST /api/service-caller/auth/<path>` forwards the request body (with its
 * content type) to `/api/auth/<path>` with a real service token that the
 * framework issues to this plugin for the target `auth`
 * (`auth.getPluginRequestToken({ onBehalfOf: own service credentials })`),
 * found through discovery as any plugin would, and relays status and body.
 * Its own route is open, so tests can reach it without credentials.
 */
export const serviceCallerPlugin = createBackendPlugin({
  pluginId: 'service-caller',
  register(reg) {
    reg.registerInit({
      deps: {
        httpRouter: coreServices.httpRouter,
        auth: coreServices.auth,
        discovery: coreServices.discovery,
      },
      async init({ httpRouter, auth, discovery }) {
        const router = Router();
        router.post('/auth/*', express.text({ type: () => true }), async (req, res) => {
          const { token } = await auth.getPluginRequestToken({
            onBehalfOf: await auth.getOwnServiceCredentials(),
            targetPluginId: 'auth',
          });
          const target = `${await discovery.getBaseUrl('auth')}${req.path.slice('/auth'.length)}`;
          const upstream = await fetch(target, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${token}`,
              ...(req.headers['content-type'] ? { 'content-type': req.headers['content-type'] } : {}),
            },
            body: typeof req.body === 'string' ? req.body : undefined,
          });
          res.status(upstream.status).type('json').send(await upstream.text());
        });
        httpRouter.addAuthPolicy({ path: '/', allow: 'unauthenticated' });
        httpRouter.use(router);
      },
    });
  },
});
