/**
 * Recognises errors that mean "the database cannot be reached right now",
 * as opposed to a bug or a bad query, so callers can answer 503 and let the
 * client retry. It inspects error shapes only (no driver imports), which is
 * why it may live in the protocol layer.
 */

/** Socket-level failures from node:net / node:dns while connecting or mid-query. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/**
 * PostgreSQL SQLSTATEs: class 08 (connection exception), 57P01–57P03
 * (admin / crash shutdown, cannot connect now), 53300 (too many connections).
 */
const POSTGRES_CODES = new Set([
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

/** mysql2 and better-sqlite3 codes for a lost server or a locked file. */
const DRIVER_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'SQLITE_BUSY',
  'SQLITE_CANTOPEN',
]);

/** pg and knex say these only in their messages. */
const MESSAGES = [
  /^Connection terminated/, // pg: server went away mid-query or while idle
  /Client has encountered a connection error and is not queryable/, // pg
  /^Knex: Timeout acquiring a connection/, // pool exhausted by stuck connects
  /Unable to acquire a connection/, // knex, after the pool was destroyed
  /^Connection ended unexpectedly/,
];

const MAX_DEPTH = 5;

/** Seconds a client is asked to wait (Retry-After) while the database is down. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

function check(error: unknown, depth: number): boolean {
  if (depth > MAX_DEPTH || typeof error !== 'object' || error === null) return false;
  const e = error as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string') {
    if (NETWORK_CODES.has(e.code) || POSTGRES_CODES.has(e.code) || DRIVER_CODES.has(e.code)) {
      return true;
    }
  }
  if (e.name === 'KnexTimeoutError') return true;
  if (typeof e.message === 'string' && MESSAGES.some(m => m.test(e.message as string))) {
    return true;
  }
  // A connect to "localhost" tries ::1 and 127.0.0.1 and fails with both.
  if (Array.isArray(e.errors) && e.errors.some(inner => check(inner, depth + 1))) return true;
  return check(e.cause, depth + 1);
}

/**
 * True when `error` (or its `cause` chain, or the errors of an
 * AggregateError) says the database is unreachable or refusing connections.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return check(error, 0);
}
