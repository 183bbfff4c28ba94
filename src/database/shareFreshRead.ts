/**
 * Wraps a read so that callers arriving while it runs share one run that
 * starts after the current one: each caller gets a result read after it
 * called, as if it had read alone, but N concurrent callers cost about two
 * statements instead of N. (Sharing the run already under way would be
 * cheaper, and could hand a caller a row older than its own request: a key
 * another instance published just before would be missing.)
 */
export function shareFreshRead<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let queued: Promise<T> | undefined;
  const start = (): Promise<T> => {
    const run = read().finally(() => {
      if (running === run) running = undefined;
    });
    running = run;
    return run;
  };
  const ignore = () => undefined;
  return () => {
    if (queued) return queued;
    if (!running) return start();
    queued = running.then(ignore, ignore).then(() => {
      queued = undefined;
      return start();
    });
    return queued;
  };
}
