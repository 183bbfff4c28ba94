/**
 * Group commit for one kind of write (issue 15): a write asked for while none
 * is under way starts at once, alone; writes asked for while one is under way
 * wait for it and then go together, as one statement of up to `maxBatch`
 * items. Under load that turns N round trips, statements and commits into
 * about one per round trip of the database, at the price of waiting for at
 * most one write ahead. Each caller's promise settles when its own item is
 * written. If a batch of several fails, each of its items is written alone,
 * so that only the callers whose items fail see an error.
 */
export function coalesceWrites<T>(
  write: (items: readonly T[]) => Promise<void>,
  maxBatch: number,
): (item: T) => Promise<void> {
  let queue: Waiting<T>[] = [];
  let writing = false;

  const writeAlone = async (waiting: Waiting<T>) => {
    try {
      await write([waiting.item]);
      waiting.resolve();
    } catch (error) {
      waiting.reject(error);
    }
  };

  const writeTogether = async (batch: Waiting<T>[]) => {
    if (batch.length === 1) {
      await writeAlone(batch[0]);
      return;
    }
    try {
      await write(batch.map(waiting => waiting.item));
    } catch {
      await Promise.all(batch.map(writeAlone));
      return;
    }
    for (const waiting of batch) waiting.resolve();
  };

  const flush = async () => {
    writing = true;
    try {
      while (queue.length > 0) {
        const batch = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch);
        queue = queue.length <= maxBatch ? [] : queue.slice(maxBatch);
        await writeTogether(batch);
      }
    } finally {
      writing = false;
    }
  };

  return item =>
    new Promise<void>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!writing) void flush();
    });
}

interface Waiting<T> {
  item: T;
  resolve(): void;
  reject(error: unknown): void;
}
