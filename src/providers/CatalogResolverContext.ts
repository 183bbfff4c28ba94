import type { AuthService, LoggerService } from '@backstage/backend-plugin-api';
import {
  DEFAULT_NAMESPACE,
  type Entity,
  parseEntityRef,
  RELATION_MEMBER_OF,
  stringifyEntityRef,
} from '@backstage/catalog-model';
import { ConflictError, InputError, NotFoundError } from '@backstage/errors';
import type {
  AuthOwnershipResolver,
  AuthResolverCatalogUserQuery,
  AuthResolverContext,
  BackstageSignInResult,
  TokenParams,
} from '@backstage/plugin-auth-node';
import type { CatalogService } from '@backstage/plugin-catalog-node';
import type { Identity } from '../identity/createIdentity';
import type { ProviderSignIns } from './ProviderSignIns';

type EntityRefInput = string | { kind?: string; namespace?: string; name: string };

/** Options of {@link CatalogResolverContext.create}. */
export interface CatalogResolverContextOptions {
  identity: Identity;
  catalog: CatalogService;
  auth: AuthService;
  logger: LoggerService;
  /** From `authOwnershipResolutionExtensionPoint`; replaces the default ownership rule. */
  ownershipResolver?: AuthOwnershipResolver;
  /** Records each sign-in (issue 14); tokens issued outside a provider route are not sign-ins. */
  signIns?: ProviderSignIns;
}

/**
 * The context sign-in resolvers of provider modules run in: it looks users up
 * in the catalog with the plugin's own service credentials and issues tokens
 * through the identity, which saves the claims to `user_info`.
 */
export class CatalogResolverContext implements AuthResolverContext {
  readonly #identity: Identity;
  readonly #catalog: CatalogService;
  readonly #auth: AuthService;
  readonly #logger: LoggerService;
  readonly #ownershipResolver?: AuthOwnershipResolver;
  readonly #signIns?: ProviderSignIns;

  static create(options: CatalogResolverContextOptions): CatalogResolverContext {
    return new CatalogResolverContext(options);
  }

  private constructor(options: CatalogResolverContextOptions) {
    this.#identity = options.identity;
    this.#catalog = options.catalog;
    this.#auth = options.auth;
    this.#logger = options.logger;
    this.#ownershipResolver = options.ownershipResolver;
    this.#signIns = options.signIns;
  }

  /**
   * Issues the user token of a sign-in. Entity refs in `sub` and `ent` are
   * made canonical and `ent` loses duplicates, as upstream 0.31 does (issue
   * 13): a resolver's `User:default/Jane.Doe` must name the same user as
   * `user:default/jane.doe` in user_info, refresh tokens and revocations.
   */
  async issueToken(params: TokenParams): Promise<BackstageSignInResult> {
    const { sub: rawSub, ent: rawEnt, ...custom } = params.claims;
    const sub = canonicalEntityRef(rawSub);
    const ent = rawEnt ? [...new Set(rawEnt.map(canonicalEntityRef))] : [sub];
    // A sign-in is recorded with the claims it saves, in one statement where it can be (issue 15).
    const signIn = this.#signIns?.signInFor(sub);
    const { token } = await this.#identity.issueUserToken({
      claims: { sub, ent, ...custom },
      ...(signIn ? { signIn } : {}),
    });
    await this.#signIns?.tokenIssued(sub, signIn);
    this.#logger.info(`Issued token for ${sub}`);
    // `ent` is usually left out of the token, so the frontend gets it here.
    return { token, identity: { type: 'user', userEntityRef: sub, ownershipEntityRefs: ent } };
  }

  async findCatalogUser(query: AuthResolverCatalogUserQuery): Promise<{ entity: Entity }> {
    const credentials = await this.#auth.getOwnServiceCredentials();
    let found: Entity[];
    if ('entityRef' in query) {
      const entity = await this.#catalog.getEntityByRef(toUserRef(query.entityRef), { credentials });
      found = entity ? [entity] : [];
    } else if ('annotations' in query) {
      const filter: Record<string, string> = { kind: 'user' };
      for (const [key, value] of Object.entries(query.annotations)) {
        filter[`metadata.annotations.${key}`] = value;
      }
      found = (await this.#catalog.getEntities({ filter }, { credentials })).items;
    } else if ('filter' in query) {
      // A filter without a kind looks for users only, as upstream does.
      const filter = [query.filter].flat().map(f =>
        Object.keys(f).some(k => k.toLocaleLowerCase('en-US') === 'kind') ? f : { ...f, kind: 'user' },
      );
      found = (await this.#catalog.getEntities({ filter }, { credentials })).items;
    } else {
      throw new InputError('Invalid user lookup query');
    }
    if (found.length > 1) throw new ConflictError('User lookup resulted in multiple matches');
    if (found.length === 0) throw new NotFoundError('User not found');
    return { entity: found[0] };
  }

  async signInWithCatalogUser(
    query: AuthResolverCatalogUserQuery,
    options?: { dangerousEntityRefFallback?: { entityRef: EntityRefInput } },
  ): Promise<BackstageSignInResult> {
    let entity: Entity;
    try {
      ({ entity } = await this.findCatalogUser(query));
    } catch (error) {
      const fallback = options?.dangerousEntityRefFallback;
      if ((error as Error)?.name !== 'NotFoundError' || !fallback) throw error;
      const sub = stringifyEntityRef(toUserRef(fallback.entityRef));
      return this.issueToken({ claims: { sub, ent: [sub] } });
    }
    const { ownershipEntityRefs } = await this.resolveOwnershipEntityRefs(entity);
    return this.issueToken({
      claims: { sub: stringifyEntityRef(entity), ent: ownershipEntityRefs },
    });
  }

  async resolveOwnershipEntityRefs(entity: Entity): Promise<{ ownershipEntityRefs: string[] }> {
    if (this.#ownershipResolver) {
      return this.#ownershipResolver.resolveOwnershipEntityRefs(entity);
    }
    // Default: the user and every group it is a member of.
    const groups =
      entity.relations
        ?.filter(r => r.type === RELATION_MEMBER_OF && r.targetRef.startsWith('group:'))
        .map(r => r.targetRef) ?? [];
    return { ownershipEntityRefs: [...new Set([stringifyEntityRef(entity), ...groups])] };
  }
}

/** `kind:namespace/name`, lower-cased; a ref that does not parse is kept as given. */
function canonicalEntityRef(ref: string): string {
  try {
    return stringifyEntityRef(parseEntityRef(ref));
  } catch {
    return ref;
  }
}

function toUserRef(ref: EntityRefInput) {
  return parseEntityRef(ref, { defaultKind: 'User', defaultNamespace: DEFAULT_NAMESPACE });
}
