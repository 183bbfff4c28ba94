import type { AuthService, UserInfoService } from '@backstage/backend-plugin-api';
import type { ActionsRegistryService } from '@backstage/backend-plugin-api/alpha';
import { NotAllowedError, NotFoundError } from '@backstage/errors';
import type { CatalogService } from '@backstage/plugin-catalog-node';

/**
 * Registers the `who-am-i` action that upstream's auth plugin offers (since
 * 0.27.2), so the actions registry — and through it
 * `@backstage/plugin-mcp-actions-backend`, as the tool `auth.who-am-i` —
 * keeps listing it after the swap. It answers with the caller's catalog
 * entity and ownership refs, and only for user credentials.
 */
export function registerWhoAmIAction(deps: {
  actionsRegistry: ActionsRegistryService;
  auth: AuthService;
  catalog: CatalogService;
  userInfo: UserInfoService;
}): void {
  const { auth, catalog, userInfo } = deps;
  deps.actionsRegistry.register({
    name: 'who-am-i',
    title: 'Who Am I',
    description:
      'Returns the catalog entity and the identity (entity ref and ownership refs) of the ' +
      'signed-in user who calls it. Only user credentials can call it; service and ' +
      'unauthenticated credentials are refused.',
    attributes: { destructive: false, readOnly: true, idempotent: true },
    schema: {
      input: z => z.object({}),
      output: z =>
        z.object({
          entity: z.object({}).passthrough().describe("The user's entity in the catalog"),
          userInfo: z
            .object({
              userEntityRef: z.string().describe('The user, e.g. user:default/jane.doe'),
              ownershipEntityRefs: z
                .array(z.string())
                .describe('The entity refs the user owns through (the user and their groups)'),
            })
            .describe("The identity in the caller's token"),
        }),
    },
    async action({ credentials }) {
      if (!auth.isPrincipal(credentials, 'user')) {
        throw new NotAllowedError('who-am-i needs the credentials of a signed-in user');
      }
      const ref = credentials.principal.userEntityRef;
      const [entity, info] = await Promise.all([
        catalog.getEntityByRef(ref, { credentials }),
        userInfo.getUserInfo(credentials),
      ]);
      if (!entity) {
        throw new NotFoundError(`The catalog has no entity for the user '${ref}'`);
      }
      return { output: { entity, userInfo: info } };
    },
  });
}
