/**
 * A drop-in replacement for `@backstage/plugin-auth-backend` that turns the
 * portal into a standards-grade OpenID Connect provider.
 *
 * @packageDocumentation
 */
export { authPlugin as default } from './plugin';
