import { mockServices } from '@backstage/backend-test-utils';
import type { Entity } from '@backstage/catalog-model';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import type { Identity, UserTokenClaims } from '../identity/createIdentity';
import { CatalogResolverContext } from './CatalogResolverContext';

const alice: Entity = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'User',
  metadata: { name: 'alice', namespace: 'default', annotations: { 'github.com/user-login': 'alice-gh' } },
  spec: {},
  relations: [
    { type: 'memberOf', targetRef: 'group:default/team-a' },
    { type: 'memberOf', targetRef: 'group:default/team-a' },
    { type: 'ownerOf', targetRef: 'component:default/x' },
  ],
};
const twin = (name: string): Entity => ({
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'User',
  metadata: { name, namespace: 'default', annotations: { 'example.com/email': 'same@example.com' } },
  spec: {},
});

function setup(options: { ownershipRefs?: string[] } = {}) {
  const issued: UserTokenClaims[] = [];
  const identity = {
    async issueUserToken({ claims }: { claims: UserTokenClaims }) {
      issued.push(claims);
      return { token: `token-for-${claims.sub}`, expiresInSeconds: 3600 };
    },
  } as unknown as Identity;
  const context = CatalogResolverContext.create({
    identity,
    catalog: catalogServiceMock({ entities: [alice, twin('bob'), twin('bobby')] }),
    auth: mockServices.auth(),
    logger: mockServices.logger.mock(),
    ownershipResolver: options.ownershipRefs
      ? { resolveOwnershipEntityRefs: async () => ({ ownershipEntityRefs: options.ownershipRefs! }) }
      : undefined,
  });
  return { context, issued };
}

describe('CatalogResolverContext', () => {
  it('finds users by entity ref, annotations and filter', async () => {
    const { context } = setup();
    for (const query of [
      { entityRef: 'alice' },
      { entityRef: { name: 'alice' } },
      { annotations: { 'github.com/user-login': 'alice-gh' } },
      { filter: { 'metadata.name': 'alice' } },
    ]) {
      await expect(context.findCatalogUser(query)).resolves.toEqual({ entity: alice });
    }
  });

  it('reports a missing user as NotFoundError and several matches as ConflictError', async () => {
    const { context } = setup();
    await expect(context.findCatalogUser({ entityRef: 'nobody' })).rejects.toMatchObject({ name: 'NotFoundError' });
    await expect(
      context.findCatalogUser({ annotations: { 'example.com/email': 'same@example.com' } }),
    ).rejects.toMatchObject({ name: 'ConflictError' });
  });

  it('signs in a catalog user with the user and its groups as ownership refs', async () => {
    const { context, issued } = setup();
    const result = await context.signInWithCatalogUser({ entityRef: 'alice' });
    expect(result).toEqual({
      token: 'token-for-user:default/alice',
      identity: {
        type: 'user',
        userEntityRef: 'user:default/alice',
        ownershipEntityRefs: ['user:default/alice', 'group:default/team-a'],
      },
    });
    expect(issued).toEqual([{ sub: 'user:default/alice', ent: ['user:default/alice', 'group:default/team-a'] }]);
  });

  it('uses the registered ownership resolver instead of the default rule', async () => {
    const { context, issued } = setup({ ownershipRefs: ['group:default/custom'] });
    await context.signInWithCatalogUser({ entityRef: 'alice' });
    expect(issued[0].ent).toEqual(['group:default/custom']);
  });

  it('falls back to the given entity ref only when the user is not found', async () => {
    const { context, issued } = setup();
    const result = await context.signInWithCatalogUser(
      { entityRef: 'nobody' },
      { dangerousEntityRefFallback: { entityRef: 'guest' } },
    );
    expect(result.identity?.userEntityRef).toBe('user:default/guest');
    expect(issued).toEqual([{ sub: 'user:default/guest', ent: ['user:default/guest'] }]);
    await expect(
      context.signInWithCatalogUser(
        { annotations: { 'example.com/email': 'same@example.com' } },
        { dangerousEntityRefFallback: { entityRef: 'guest' } },
      ),
    ).rejects.toMatchObject({ name: 'ConflictError' });
  });

  it('issues a token with ent defaulting to the user and custom claims kept', async () => {
    const { context, issued } = setup();
    await context.issueToken({ claims: { sub: 'user:default/carol', email: 'c@example.com' } });
    expect(issued).toEqual([{ sub: 'user:default/carol', ent: ['user:default/carol'], email: 'c@example.com' }]);
  });

  it('makes sub and ent canonical and drops duplicate ent refs (issue 13)', async () => {
    const { context, issued } = setup();
    const result = await context.issueToken({
      claims: {
        sub: 'User:Default/Jane.Doe',
        ent: ['User:Default/Jane.Doe', 'user:default/jane.doe', 'Group:Default/Team-A', 'group:default/team-a', 'jane'],
        team: 'Blue',
      },
    });
    const canonical = {
      sub: 'user:default/jane.doe',
      ent: ['user:default/jane.doe', 'group:default/team-a', 'jane'],
      team: 'Blue',
    };
    expect(issued).toEqual([canonical]);
    expect(result.identity).toEqual({
      type: 'user',
      userEntityRef: canonical.sub,
      ownershipEntityRefs: canonical.ent,
    });
    await context.issueToken({ claims: { sub: 'User:Default/Jane.Doe' } });
    expect(issued[1]).toEqual({ sub: 'user:default/jane.doe', ent: ['user:default/jane.doe'] });
  });

  it('keeps a ref that does not parse as given', async () => {
    const { context, issued } = setup();
    await context.issueToken({ claims: { sub: 'Jane', ent: ['Jane', 'Jane'] } });
    expect(issued).toEqual([{ sub: 'Jane', ent: ['Jane'] }]);
  });
});
