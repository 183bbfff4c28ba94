/**
 * Pass as `.limit(1, LITERAL_LIMIT)` after `.first()` so LIMIT 1 is written
 * into the SQL instead of bound. SQLite recompiles a statement whenever a
 * bound LIMIT is bound again, and better-sqlite3 binds on every run: a
 * primary-key read with `limit ?` measured about three times one with
 * `limit 1` (SQLite 3.53: ~22 µs against ~8 µs; the same statement bound
 * once and run again, ~8 µs). PostgreSQL and MySQL run either text alike.
 */
export const LITERAL_LIMIT = { skipBinding: true } as const;
