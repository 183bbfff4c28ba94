import type { MetricAttributes, MetricsService } from '@backstage/backend-plugin-api/alpha';
import type { OAuthMetrics } from '../oauth/metrics';

/**
 * The bucket boundaries, in seconds, OpenTelemetry's HTTP conventions give
 * `http.server.request.duration`; the SDK's default ones are meant for milliseconds.
 */
const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** `error.type` only when there is one: OpenTelemetry leaves it off successes. */
function withError(attributes: MetricAttributes, errorType: string | undefined): MetricAttributes {
  return errorType === undefined ? attributes : { ...attributes, 'error.type': errorType };
}

/**
 * The OpenID provider's instruments, from the backend's metrics service
 * (meter scope `backstage-plugin-auth`). Names, units and attributes are
 * listed in docs/metrics.md; create them once per plugin.
 */
export function createOAuthMetrics(metrics: MetricsService): OAuthMetrics {
  const counter = (name: string, unit: string, description: string) => metrics.createCounter(name, { description, unit });
  const tokensIssued = counter('auth.oidc.tokens.issued', '{response}', 'Successful token responses, by grant type and kind of client');
  const tokenDuration = metrics.createHistogram('auth.oidc.token.duration', {
    description: 'How long the token endpoint took to answer, by grant type and OAuth error',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS_SECONDS },
  });
  const refusals = counter('auth.oidc.refusals', '{response}', 'OAuth error responses of the OAuth endpoints, by endpoint and error code');
  const rateLimitHits = counter('auth.oidc.rate_limit.hits', '{request}', 'Requests a rate limit refused, by limit and what it counts');
  const authorizationRequests = counter(
    'auth.oidc.authorization.requests',
    '{request}',
    'Authorization requests sent to the user for a decision, by kind of client',
  );
  const authorizationDecisions = counter('auth.oidc.authorization.decisions', '{decision}', 'Decisions users made on authorization requests');
  const metadataFetches = counter(
    'auth.oidc.client_metadata.fetches',
    '{fetch}',
    'Fetches of client-ID metadata documents, by why the document could not be used',
  );
  return {
    tokensIssued({ grantType, clientKind }) {
      tokensIssued.add(1, { 'oauth.grant_type': grantType, 'oauth.client.kind': clientKind });
    },
    tokenRequestDuration(seconds, { grantType, errorType }) {
      tokenDuration.record(seconds, withError({ 'oauth.grant_type': grantType }, errorType));
    },
    refused({ endpoint, errorType }) {
      refusals.add(1, { 'oauth.endpoint': endpoint, 'error.type': errorType });
    },
    rateLimited({ limit, scope }) {
      rateLimitHits.add(1, { 'oauth.rate_limit.name': limit, 'oauth.rate_limit.scope': scope });
    },
    authorizationRequested({ clientKind }) {
      authorizationRequests.add(1, { 'oauth.client.kind': clientKind });
    },
    authorizationDecided({ decision, errorType }) {
      authorizationDecisions.add(1, withError({ 'oauth.decision': decision }, errorType));
    },
    clientMetadataFetched({ errorType }) {
      metadataFetches.add(1, withError({}, errorType));
    },
  };
}
