import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBackend } from '@backstage/backend-defaults';
import { HostDiscovery } from '@backstage/backend-defaults/discovery';
import { rootHttpRouterServiceFactory } from '@backstage/backend-defaults/rootHttpRouter';
import {
  type BackendFeature,
  coreServices,
  createServiceFactory,
  type RootLoggerService,
} from '@backstage/backend-plugin-api';
import { mockServices } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';

/**
 * Starts `options.features` in a backend built by `createBackend()`, as adopters build
 * theirs, and served by backend-defaults' root HTTP router with its defaults
 * applied: `backend.trustProxy`, helmet, CORS, request logging.
 * startTestBackend's own root router is a bare Express app that ignores every
 * `backend.*` setting, so a test of proxy handling cannot use it; nor can it
 * swap that router, since it then has no server to return. Like
 * startTestBackend, this backend runs no scheduled task and (without
 * `rootLogger`) logs nothing, and its discovery points at the port it listens
 * on (`backend.listen.port: 0` must be in the config).
 *
 * - `externalBaseUrl`: the backend's external base URL (the issuer's origin)
 *   when it is not the port it listens on, e.g. a load balancer in front of
 *   several instances; internal calls still go to the port it listens on.
 * - `rootLogger`: the root logger every plugin's logger derives from, for a
 *   test that reads the logs; by default nothing is logged.
 */
export async function startProductionBackend(options: {
  features: Array<BackendFeature | Promise<{ default: BackendFeature }>>;
  externalBaseUrl?: string;
  rootLogger?: RootLoggerService;
}): Promise<{ server: Server; stop(): Promise<void> }> {
  let server: Server | undefined;
  const listeningServer = () => {
    if (!server) throw new Error('the root HTTP router has not started');
    return server;
  };
  const backend = createBackend();
  for (const feature of [
    ...options.features,
    rootHttpRouterServiceFactory({
      configure(context) {
        server = context.server;
        context.applyDefaults();
      },
    }),
    createServiceFactory({
      service: coreServices.discovery,
      // Built once the root router has started listening, so its port is known.
      deps: { rootHttpRouter: coreServices.rootHttpRouter },
      factory() {
        const { port } = listeningServer().address() as AddressInfo;
        const baseUrl = options.externalBaseUrl ?? `http://localhost:${port}`;
        return HostDiscovery.fromConfig(new ConfigReader({ backend: { baseUrl, listen: { port } } }));
      },
    }),
    options.rootLogger
      ? createServiceFactory({ service: coreServices.rootLogger, deps: {}, factory: () => options.rootLogger! })
      : mockServices.rootLogger.factory(),
    mockServices.scheduler.factory(),
  ]) {
    backend.add(feature);
  }
  await backend.start();
  return { server: listeningServer(), stop: () => backend.stop() };
}
