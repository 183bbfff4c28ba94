import { coalesceWrites } from './coalesceWrites';

/** A write that records its batches and finishes when told to. */
function slowWrite(fails: (item: string) => boolean = () => false) {
  const batches: string[][] = [];
  const finish: Array<() => void> = [];
  const write = (items: readonly string[]) => {
    batches.push([...items]);
    return new Promise<void>((resolve, reject) => {
      finish.push(() => (items.some(fails) ? reject(new Error(`bad item in ${items.join(',')}`)) : resolve()));
    });
  };
  /** Lets the write under way finish, and the next one start. */
  const next = async () => {
    finish.shift()!();
    await new Promise(resolve => setImmediate(resolve));
  };
  return { batches, write, next };
}

describe('coalesceWrites', () => {
  it('writes an item alone and at once when nothing is being written', async () => {
    const w = slowWrite();
    const add = coalesceWrites(w.write, 10);
    const written = add('a');
    expect(w.batches).toEqual([['a']]);
    await w.next();
    await expect(written).resolves.toBeUndefined();
  });

  it('writes the items asked for meanwhile together, in order, after the write under way', async () => {
    const w = slowWrite();
    const add = coalesceWrites(w.write, 10);
    const settled: string[] = [];
    const all = ['a', 'b', 'c', 'd'].map(item => add(item).then(() => settled.push(item)));
    expect(w.batches).toEqual([['a']]);
    await w.next();
    expect(settled).toEqual(['a']);
    expect(w.batches).toEqual([['a'], ['b', 'c', 'd']]);
    await w.next();
    await Promise.all(all);
    expect(settled).toEqual(['a', 'b', 'c', 'd']);
  });

  it('writes no more than maxBatch items together', async () => {
    const w = slowWrite();
    const add = coalesceWrites(w.write, 2);
    const all = ['a', 'b', 'c', 'd', 'e'].map(item => add(item));
    for (let i = 0; i < 3; i++) await w.next();
    await Promise.all(all);
    expect(w.batches).toEqual([['a'], ['b', 'c'], ['d', 'e']]);
  });

  it('fails only the callers whose items fail: a failed batch is written again item by item', async () => {
    const w = slowWrite(item => item === 'bad');
    const add = coalesceWrites(w.write, 10);
    const all = ['a', 'b', 'bad', 'c'].map(item => add(item));
    await w.next(); // a
    await w.next(); // b, bad, c together: fails
    await w.next(); // b alone
    await w.next(); // bad alone
    await w.next(); // c alone
    const outcomes = await Promise.allSettled(all);
    expect(outcomes.map(o => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[2] as PromiseRejectedResult).reason.message).toBe('bad item in bad');
    expect(w.batches).toEqual([['a'], ['b', 'bad', 'c'], ['b'], ['bad'], ['c']]);

    // And goes on writing afterwards.
    const later = add('d');
    expect(w.batches.at(-1)).toEqual(['d']);
    await w.next();
    await expect(later).resolves.toBeUndefined();
  });

  it('survives a write that throws before returning a promise', async () => {
    let calls = 0;
    const add = coalesceWrites<string>(() => {
      calls++;
      if (calls === 1) throw new Error('synchronous');
      return Promise.resolve();
    }, 10);
    await expect(add('a')).rejects.toThrow('synchronous');
    await expect(add('b')).resolves.toBeUndefined();
  });
});
