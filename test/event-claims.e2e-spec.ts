import { AuditChain, Claim, EventClaims, verifyAuditChain } from '@aegle/store';
import { AuditStore, createAuditStore } from './support/audit-db';
import { WorkRows, workRows } from './support/work-rows';

type Store = AuditStore & { close(): Promise<void> };

/**
 * EventClaims' SQL against real PostgreSQL: which version of a resource the router may take, which
 * one waits, which one is stale, and that concurrent claimers (separate audit chains, as separate
 * processes have) never both take two versions of one resource.
 */
describe('event claims: per-resource version order in PostgreSQL', () => {
  let store: Store;
  let claims: EventClaims;

  let event: WorkRows['event'];
  let openRun: WorkRows['openRun'];
  let route: WorkRows['route'];
  let succeed: WorkRows['succeed'];
  let writeBack: WorkRows['writeBack'];

  beforeAll(async () => {
    store = await createAuditStore();
    claims = new EventClaims(store.chain);
    ({ event, openRun, route, succeed, writeBack } = workRows(store));
  });

  afterAll(() => store?.close());

  const verdict = async (id: string) => (await claims.claim(id)).verdict;
  const statusOf = async (id: string) =>
    (await store.db.query(`SELECT status, reason FROM event WHERE id = $1`, [id]))[0] as {
      status: string;
      reason: string | null;
    };

  it('claims the newest version, and records a later-arriving older one as stale in the chain', async () => {
    const v3 = await event('stale-1', '3');
    expect(await claims.claim(v3)).toEqual({
      verdict: 'claimed',
      event: expect.objectContaining({
        id: v3,
        focusId: 'stale-1',
        focusVersion: '3',
        interaction: 'update',
      }),
    });
    const v2 = await event('stale-1', '2');
    expect(await verdict(v2)).toBe('stale');
    expect(await statusOf(v2)).toEqual({
      status: 'stale',
      reason: 'a newer version (3) of this resource was processed first',
    });
    const [entry] = await store.db.query(
      `SELECT action FROM audit_log WHERE record_type = 'event' AND record_id = $1 AND action = 'stale'`,
      [v2],
    );
    expect(entry).toEqual({ action: 'stale' });
    // Asked again (a retried job), the stale event is done with; the claim itself is not audited content.
    expect(await verdict(v2)).toBe('done');
    expect((await verifyAuditChain(store.db)).valid).toBe(true);
  });

  it('holds a newer version back until the older one’s routing and runs have ended', async () => {
    const v1 = await event('held-1', '1');
    const v2 = await event('held-1', '2');
    expect(await verdict(v1)).toBe('claimed');
    expect(await verdict(v2)).toBe('wait'); // v1 is being routed
    // A retried or stalled job of v1 takes its own claim again.
    expect(await verdict(v1)).toBe('claimed');

    // Routed as the router routes it: its runs opened in the same statement, not yet queued.
    const [live, shadow] = await route(v1, ['live', 'shadow']);
    expect(await verdict(v2)).toBe('wait'); // runs pending
    await succeed(shadow); // a shadow result is never written: its run has ended
    await succeed(live);
    expect(await verdict(v2)).toBe('wait'); // the live result is not in the EHR yet
    await writeBack(live, 'retrying');
    expect(await verdict(v2)).toBe('wait');
    await writeBack(live, 'created');
    expect(await verdict(v2)).toBe('claimed');
  });

  it('lets a dead letter, a skipped or failed run, or a job that gave up end the older version', async () => {
    const v1 = await event('ends-1', '1');
    const v2 = await event('ends-1', '2');
    const v3 = await event('ends-1', '3');
    expect(await verdict(v1)).toBe('claimed');
    const dead = await openRun(v1);
    const skipped = await openRun(v1);
    const failed = await openRun(v1);
    const gaveUp = await openRun(v1);
    await store.runs.openAndRoute(v1, [], null);
    await succeed(dead);
    await writeBack(dead, 'dead');
    await store.runs.complete(skipped, { outcome: 'skipped', reason: 'missing data' });
    await store.runs.complete(failed, { outcome: 'failed', reason: 'the plugin threw' });
    expect(await verdict(v2)).toBe('wait');
    await store.failedJobs.record({
      queue: 'aegle-runs',
      jobId: gaveUp,
      jobName: 'run',
      payload: { runId: gaveUp },
      sourceId: null,
      attempts: 8,
      reason: 'EHR unreachable',
    });
    expect(await verdict(v2)).toBe('claimed');

    // The routing job of v2 gives up for good: v3 goes on. Replayed, v2 holds it back again.
    const routing = await store.failedJobs.record({
      queue: 'aegle-events',
      jobId: v2,
      jobName: 'route',
      payload: { eventId: v2 },
      sourceId: null,
      attempts: 8,
      reason: 'EHR unreachable',
    });
    expect(routing).not.toBeNull();
    expect(await store.failedJobs.markReplayed(String(routing), 'test', `${v2}:replay`)).toBe(true);
    expect(await verdict(v3)).toBe('wait');
    await store.failedJobs.record({
      queue: 'aegle-events',
      jobId: `${v2}:replay`,
      jobName: 'route',
      payload: { eventId: v2 },
      sourceId: null,
      attempts: 8,
      reason: 'EHR unreachable',
    });
    expect(await verdict(v3)).toBe('claimed');
  });

  it('does not wait for a write-back from a run that found nothing to write', async () => {
    const v1 = await event('nothing-1', '1');
    const v2 = await event('nothing-1', '2');
    expect(await verdict(v1)).toBe('claimed');
    const empty = await openRun(v1);
    await store.runs.openAndRoute(v1, [], null);
    await succeed(empty, 0);
    expect(await verdict(v2)).toBe('claimed');
  });

  it('frees a resource whose routing claim was not renewed within the lease', async () => {
    const v1 = await event('lease-1', '1');
    const v2 = await event('lease-1', '2');
    expect(await verdict(v1)).toBe('claimed');
    expect(await verdict(v2)).toBe('wait');
    await store.db.query(`UPDATE event SET claimed_at = now() - interval '6 minutes' WHERE id = $1`, [v1]);
    expect(await verdict(v2)).toBe('claimed');
    // The vanished job, should it come back, finds a newer version taken: stale.
    expect(await verdict(v1)).toBe('stale');
  });

  it('orders opaque versions by lastUpdated, and leaves versions it cannot compare unordered', async () => {
    const newer = await event('opaque-1', 'b7e1', '2026-01-02T10:00:00.000Z');
    const older = await event('opaque-1', 'a9f3', '2026-01-02T09:00:00.000Z');
    expect(await verdict(newer)).toBe('claimed');
    expect(await verdict(older)).toBe('stale');
    const undated = await event('opaque-1', 'c4d2');
    expect(await verdict(undated)).toBe('claimed');
  });

  it('decides one version per resource in a batch: the newest', async () => {
    const ids = await Promise.all(['1', '2', '3'].map((v) => event('batch-1', v)));
    // As the audit chain runs a batch of concurrent claims: one transaction, one call.
    const answers = await store.db.transaction((tx) => claims.run(tx, [...ids, ids[2]]));
    expect(answers.map((a) => a.result.verdict)).toEqual(['wait', 'wait', 'claimed', 'done']);
    expect(await verdict(ids[0])).toBe('stale');
    expect(await verdict(ids[1])).toBe('stale');
  });

  it('never lets two processes take two versions of one resource at once', async () => {
    // Two claimers with their own chains and pools, as two worker processes have.
    const other = new EventClaims(new AuditChain(store.db));
    const resources = Array.from({ length: 40 }, (_, i) => `race-${i}`);
    const pairs = await Promise.all(
      resources.map(async (id) => [await event(id, '1'), await event(id, '2')] as const),
    );
    const answers: Array<[Claim, Claim]> = await Promise.all(
      pairs.map(([v1, v2], i) =>
        Promise.all(i % 2 ? [claims.claim(v1), other.claim(v2)] : [other.claim(v2), claims.claim(v1)]),
      ),
    );
    for (const [first, second] of answers) {
      // v1 and v2 both taken would route them at the same time: one of them waits or is stale.
      expect([first.verdict, second.verdict].filter((v) => v === 'claimed')).toHaveLength(1);
    }
  });
});
