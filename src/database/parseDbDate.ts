/**
 * Reads a timestamp column. PostgreSQL returns a Date; SQLite returns either
 * `YYYY-MM-DD HH:MM:SS` (CURRENT_TIMESTAMP, always UTC), an ISO string, or
 * epoch milliseconds, depending on who wrote the row.
 */
export function parseDbDate(value: Date | string | number): Date {
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(value);
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$/.test(value)
    ? `${value.replace(' ', 'T')}Z`
    : value;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    throw new Error(`Unreadable timestamp '${value}' in the database`);
  }
  return date;
}
