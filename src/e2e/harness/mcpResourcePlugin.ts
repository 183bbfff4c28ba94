import { coreServices, createBackendPlugin } from '@backstage/backend-plugin-api';
import Router from 'express-promise-router';

/**
 * A stand-in for an MCP server plugin (`/api/mcp-test/mcp`): it publishes
 * RFC 9728 protected resource metadata naming the auth plugin as its
 * authorization server, answers 401 with `WWW-Authenticate: Bearer
 * resource_metadata=…` without a token, and accepts only Backstage user
 * tokens, verified by the framework's own httpAuth.
 */
export const mcpResourcePlugin = createBackendPlugin({
  pluginId: 'mcp-test',
  register(reg) {
    reg.registerInit({
      deps: {
        httpRouter: coreServices.httpRouter,
        httpAuth: coreServices.httpAuth,
        discovery: coreServices.discovery,
      },
      async init({ httpRouter, httpAuth, discovery }) {
        const base = await discovery.getExternalBaseUrl('mcp-test');
        const issuer = await discovery.getExternalBaseUrl('auth');
        const metadataUrl = `${base}/.well-known/oauth-protected-resource`;
        const router = Router();
        router.get('/.well-known/oauth-protected-resource', (_req, res) => {
          res.json({
            resource: `${base}/mcp`,
            authorization_servers: [issuer],
            scopes_supported: ['openid', 'offline_access'],
            bearer_methods_supported: ['header'],
          });
        });
        router.all('/mcp', async (req, res) => {
          if (!req.headers.authorization) {
            res.setHeader('WWW-Authenticate', `Bearer resource_metadata="${metadataUrl}"`);
            res.status(401).json({ error: 'unauthorized' });
            return;
          }
          const credentials = await httpAuth.credentials(req, { allow: ['user'] });
          res.json({ userEntityRef: credentials.principal.userEntityRef });
        });
        // This plugin checks tokens itself, to answer with the RFC 9728 challenge.
        httpRouter.addAuthPolicy({ path: '/', allow: 'unauthenticated' });
        httpRouter.use(router);
      },
    });
  },
});
