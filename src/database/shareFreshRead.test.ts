import { shareFreshRead } from './shareFreshRead';

/** A read whose runs the test finishes by hand, each returning the value current when it started. */
function controlledRead() {
  let value = 0;
  const runs: { startedWith: number; finish(): void; fail(error: Error): void }[] = [];
  const read = () =>
    new Promise<number>((resolve, reject) => {
      const startedWith = value;
      runs.push({ startedWith, finish: () => resolve(startedWith), fail: reject });
    });
  return { read, runs, set: (v: number) => (value = v) };
}

const tick = () => new Promise(resolve => setImmediate(resolve));

describe('shareFreshRead', () => {
  it('gives callers that arrive during a read the result of a read started after them', async () => {
    const source = controlledRead();
    const shared = shareFreshRead(source.read);
    const first = shared();
    source.set(1); // written after the first read started
    const second = shared();
    const third = shared();
    expect(source.runs).toHaveLength(1);
    source.runs[0].finish();
    expect(await first).toBe(0);
    await tick();
    expect(source.runs).toHaveLength(2);
    source.runs[1].finish();
    expect(await second).toBe(1);
    expect(await third).toBe(1);
  });

  it('reads alone for a caller that arrives when nothing runs', async () => {
    const source = controlledRead();
    const shared = shareFreshRead(source.read);
    const first = shared();
    source.runs[0].finish();
    await first;
    const second = shared();
    expect(source.runs).toHaveLength(2);
    source.runs[1].finish();
    expect(await second).toBe(0);
  });

  it('fails only the callers of a failed run', async () => {
    const source = controlledRead();
    const shared = shareFreshRead(source.read);
    const first = shared();
    const second = shared();
    source.runs[0].fail(new Error('db down'));
    await expect(first).rejects.toThrow('db down');
    await tick();
    source.runs[1].finish();
    expect(await second).toBe(0);
  });
});
