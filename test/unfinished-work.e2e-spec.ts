import { UnfinishedWork } from '@aegle/store';
import { AuditStore, createAuditStore } from './support/audit-db';
import { workRows } from './support/work-rows';

type Store = AuditStore & { close(): Promise<void> };

/**
 * What the work reconciler offers the queues again after Redis lost jobs, judged in real
 * PostgreSQL: unfinished work comes back; finished work, and work that gave up for good (the
 * operator's to replay), does not.
 */
describe('unfinished work: what the reconciler puts back on the queues', () => {
  let store: Store;
  let work: UnfinishedWork;
  let rows: ReturnType<typeof workRows>;
  /** Everything counts as old enough: the reconciler's grace period is not what is tested. */
  const find = () => work.find(-60_000, 1000);

  beforeAll(async () => {
    store = await createAuditStore();
    work = new UnfinishedWork(store.db);
    rows = workRows(store);
  });

  afterAll(() => store?.close());

  const gaveUp = async (payload: { eventId: string } | { runId: string }, jobId: string) => {
    const id = await store.failedJobs.record({
      queue: 'eventId' in payload ? 'aegle-events' : 'aegle-runs',
      jobId,
      jobName: 'eventId' in payload ? 'route' : 'run',
      payload,
      sourceId: null,
      attempts: 8,
      reason: 'EHR unreachable',
    });
    if (!id) throw new Error(`job ${jobId} was recorded as failed already`);
    return id;
  };

  it('offers accepted events again until they are routed, but not one that gave up until replayed', async () => {
    const waiting = await rows.event('reconcile-1', '1');
    const routed = await rows.event('reconcile-2', '1');
    const stuck = await rows.event('reconcile-3', '1');
    const inOutbox = await rows.event('reconcile-4', '1');
    // Handed to the queue (the outbox relay's own work is the events never handed over).
    await store.events.markEnqueued([waiting, routed, stuck]);
    await store.runs.openAndRoute(routed, [], null);
    const failure = await gaveUp({ eventId: stuck }, stuck);

    let { events } = await find();
    expect(events).toContain(waiting);
    expect(events).not.toContain(routed);
    expect(events).not.toContain(stuck);
    expect(events).not.toContain(inOutbox);

    await store.failedJobs.markReplayed(failure, 'test', `${stuck}:replay`);
    ({ events } = await find());
    expect(events).toContain(stuck);
  });

  it('offers pending runs again, but not one that gave up', async () => {
    const eventId = await rows.event('reconcile-runs', '1');
    const pending = await rows.openRun(eventId);
    const stuck = await rows.openRun(eventId);
    const done = await rows.openRun(eventId);
    await rows.succeed(done);
    await gaveUp({ runId: stuck }, stuck);

    const ids = (await find()).runs.map((r) => r.id);
    expect(ids).toContain(pending);
    expect(ids).not.toContain(stuck);
    expect(ids).not.toContain(done);
  });

  it('offers the pending runs of a routed event that were never queued (a crash after routing)', async () => {
    const eventId = await rows.event('reconcile-routed', '1');
    await store.events.markEnqueued([eventId]);
    // The router's statement committed (runs opened, event routed); the process died before queueing.
    const [live, shadow] = await rows.route(eventId, ['live', 'shadow']);

    const { events, runs } = await find();
    expect(events).not.toContain(eventId);
    expect(runs.map((r) => r.id)).toEqual(expect.arrayContaining([live, shadow]));
  });

  it('offers only results that still await their write-back: not shadow, empty, written or dead ones', async () => {
    const eventId = await rows.event('reconcile-writes', '1');
    const [unwritten, retrying, written, dead, shadow, empty] = await Promise.all([
      rows.openRun(eventId),
      rows.openRun(eventId),
      rows.openRun(eventId),
      rows.openRun(eventId),
      rows.openRun(eventId, 'shadow'),
      rows.openRun(eventId),
    ]);
    for (const run of [unwritten, retrying, written, dead, shadow]) await rows.succeed(run);
    await rows.succeed(empty, 0);
    await rows.writeBack(retrying, 'retrying');
    await rows.writeBack(written, 'created');
    await rows.writeBack(dead, 'dead');

    const { unwritten: offered } = await find();
    expect(offered).toEqual(expect.arrayContaining([unwritten, retrying]));
    for (const finished of [written, dead, shadow, empty]) expect(offered).not.toContain(finished);
  });
});
