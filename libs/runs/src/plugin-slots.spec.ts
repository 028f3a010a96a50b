import { PluginSlots, RunTimeoutError, withTimeout } from './plugin-slots';

describe('plugin isolation', () => {
  it('gives a plugin version at most its limit of slots, independently of other plugins', () => {
    const slots = new PluginSlots();
    const a1 = slots.tryAcquire('a@1', 2);
    const a2 = slots.tryAcquire('a@1', 2);
    expect(a1 && a2).toBeDefined();
    expect(slots.tryAcquire('a@1', 2)).toBeUndefined();
    expect(slots.tryAcquire('b@1', 2)).toBeDefined();
    a1!();
    a1!(); // releasing twice frees one slot only
    expect(slots.inUse('a@1')).toBe(1);
    expect(slots.tryAcquire('a@1', 2)).toBeDefined();
  });

  it('hands a freed slot to the first waiter, and queues at most the given number of waiters', async () => {
    const slots = new PluginSlots();
    const running = await slots.acquire('a@1', 1, 2)!;
    const order: string[] = [];
    const first = slots.acquire('a@1', 1, 2)!.then((release) => (order.push('first'), release));
    const second = slots.acquire('a@1', 1, 2)!.then((release) => (order.push('second'), release));
    expect(slots.acquire('a@1', 1, 2)).toBeUndefined();
    expect(slots.waitingFor('a@1')).toBe(2);
    running();
    const releaseFirst = await first;
    expect(order).toEqual(['first']);
    expect(slots.inUse('a@1')).toBe(1);
    releaseFirst();
    (await second)();
    expect(order).toEqual(['first', 'second']);
    expect(slots.inUse('a@1')).toBe(0);
    expect(slots.waitingFor('a@1')).toBe(0);
  });

  it('expects a run turned away to wait for the line ahead of it, at the recent pace of a run', async () => {
    const slots = new PluginSlots();
    expect(slots.expectedWaitMs('a@1', 2)).toBe(0); // no run finished yet: no pace known
    const held = [await slots.acquire('a@1', 2, 4)!, await slots.acquire('a@1', 2, 4)!];
    const waiting = [slots.acquire('a@1', 2, 4)!, slots.acquire('a@1', 2, 4)!, slots.acquire('a@1', 2, 4)!];
    await new Promise((resolve) => setTimeout(resolve, 40));
    held[0]();
    // Two still in line (the first took the freed slot over): one turned away now is third, a round
    // and a half of ~40 ms at two slots.
    const expected = slots.expectedWaitMs('a@1', 2);
    expect(expected).toBeGreaterThanOrEqual(1.5 * 38);
    expect(expected).toBeLessThan(1.5 * 200);
    held[1]();
    for (const w of waiting) (await w)();
  });

  it('stops waiting on work that never settles', async () => {
    await expect(withTimeout(new Promise(() => undefined), 20)).rejects.toThrow(
      new RunTimeoutError('timed out after 20 ms'),
    );
    await expect(withTimeout(Promise.resolve(7), 1000)).resolves.toBe(7);
    await expect(withTimeout(Promise.reject(new Error('boom')), 1000)).rejects.toThrow('boom');
  });
});
