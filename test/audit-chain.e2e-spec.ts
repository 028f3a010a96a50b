import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { DataSource } from 'typeorm';
import {
  AUDIT_MIGRATIONS,
  contentHashSql,
  DeadLetterRepository,
  entryHash,
  EventEntity,
  GENESIS_HASH,
  parseAnchor,
  PluginRunEntity,
  verifyAuditChain,
} from '@aegle/store';
import { databaseStatementsTotal } from '@aegle/telemetry';
import { InitialSchema1764340000000 } from '../libs/store/src/migrations/1764340000000-initial-schema';
import { auditConfig, AuditStore, createAuditStore, recordStory } from './support/audit-db';
import { AuditRetentionScheduler } from '../apps/engine/src/audit/audit-retention.scheduler';
import { createTestDatabase, TestDatabase } from './support/aegle-app';
import { eventually } from './support/http';
import { workRows } from './support/work-rows';

const run = promisify(execFile);

/** Tampering as a database superuser would: with the append-only trigger out of the way. */
async function asSuperuser(store: AuditStore, sql: string, params: unknown[] = []): Promise<void> {
  await store.db.transaction(async (tx) => {
    await tx.query(`SET LOCAL session_replication_role = replica`);
    await tx.query(sql, params);
  });
}

describe('the audit hash chain, against real PostgreSQL', () => {
  let store: AuditStore & { database: TestDatabase };

  beforeEach(async () => {
    store = await createAuditStore();
  });
  afterEach(async () => {
    await store?.close();
  });

  it('chains every audited change and verifies clean', async () => {
    const story = await recordStory(store);
    const entries = await store.db.query(
      `SELECT seq::int AS seq, record_type, record_id, action FROM audit_log ORDER BY seq`,
    );
    expect(entries).toEqual([
      { seq: 1, record_type: 'notification', record_id: story.notificationId, action: 'received' },
      { seq: 2, record_type: 'event', record_id: story.eventId, action: 'accepted' },
      { seq: 3, record_type: 'plugin_run', record_id: story.runId, action: 'opened' },
      { seq: 4, record_type: 'plugin_run', record_id: story.runId, action: 'succeeded' },
      { seq: 5, record_type: 'write_back', record_id: story.writeBackId, action: 'created' },
    ]);
    const report = await verifyAuditChain(store.db);
    expect(report).toMatchObject({ valid: true, entriesChecked: 5, rowsChecked: 4, firstBroken: null });
    expect(report.head.seq).toBe('5');
  });

  it('refuses ordinary edits of the audit log', async () => {
    await recordStory(store);
    await expect(store.db.query(`UPDATE audit_log SET action = 'x' WHERE seq = 1`)).rejects.toThrow(
      /append-only/,
    );
    await expect(store.db.query(`DELETE FROM audit_log WHERE seq = 1`)).rejects.toThrow(/append-only/);
  });

  it('detects an edited domain row and names its entry', async () => {
    await recordStory(store);
    const victim = await recordStory(store);
    await recordStory(store);
    await store.db.query(`UPDATE plugin_run SET outputs = '{"findings":[{"value":9.9}]}' WHERE id = $1`, [
      victim.runId,
    ]);
    const report = await verifyAuditChain(store.db);
    expect(report.valid).toBe(false);
    expect(report.firstBroken).toEqual({
      seq: '9',
      recordType: 'plugin_run',
      recordId: victim.runId,
      problem: `plugin_run ${victim.runId} was edited: it no longer matches entry 9`,
    });
  });

  it('detects an edited audit entry', async () => {
    await recordStory(store);
    await asSuperuser(store, `UPDATE audit_log SET action = 'skipped' WHERE seq = 4`);
    const report = await verifyAuditChain(store.db);
    expect(report.firstBroken).toMatchObject({
      seq: '4',
      problem: expect.stringMatching(/entry 4 was altered/),
    });
  });

  it('detects a deleted domain row and a deleted audit entry', async () => {
    const first = await recordStory(store);
    await recordStory(store);
    await store.db.query(`DELETE FROM write_back WHERE id = $1`, [first.writeBackId]);
    let report = await verifyAuditChain(store.db);
    expect(report.firstBroken).toEqual({
      seq: '5',
      recordType: 'write_back',
      recordId: first.writeBackId,
      problem: `write_back ${first.writeBackId} was deleted: entry 5 records it`,
    });

    await asSuperuser(store, `DELETE FROM audit_log WHERE seq IN (3, 4)`);
    report = await verifyAuditChain(store.db);
    expect(report.firstBroken).toMatchObject({
      seq: '5',
      problem: 'entries 3..4 are missing: deleted from the chain',
    });
  });

  it('detects entries cut from the end of the chain', async () => {
    await recordStory(store);
    await asSuperuser(store, `DELETE FROM audit_log WHERE seq = 5`);
    await store.db.query(`DELETE FROM write_back`);
    const report = await verifyAuditChain(store.db);
    expect(report.valid).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({ seq: '5', problem: expect.stringMatching(/chain ends at entry 4/) }),
    ]);
  });

  it('detects an inserted domain row and an inserted audit entry', async () => {
    const story = await recordStory(store);
    const [forged] = await store.db.query(
      `INSERT INTO plugin_run (event_id, source_id, plugin_id, plugin_version, model_sha256, outcome)
       VALUES ($1, 'test-ehr', 'forged', '9.9.9', $2, 'succeeded') RETURNING id::text AS id`,
      [story.eventId, 'f'.repeat(64)],
    );
    let report = await verifyAuditChain(store.db);
    expect(report.firstBroken).toEqual({
      seq: null,
      recordType: 'plugin_run',
      recordId: forged.id,
      problem: `plugin_run ${forged.id} is not in the chain: inserted outside Aegle`,
    });

    // Squeeze a forged entry in at 3, renumbering the rest: the link after it no longer holds.
    await store.db.query(`DELETE FROM plugin_run WHERE id = $1`, [forged.id]);
    await asSuperuser(store, `UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 3`);
    await asSuperuser(store, `UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000`);
    await asSuperuser(
      store,
      `INSERT INTO audit_log SELECT 3, at, 'plugin_run', $1, 'opened', content_sha256, entry_hash, $2
       FROM audit_log WHERE seq = 2`,
      [story.runId, 'e'.repeat(64)],
    );
    report = await verifyAuditChain(store.db);
    expect(report.firstBroken).toMatchObject({
      seq: '3',
      problem: 'entry 3 was altered: its hash does not match its content',
    });
    expect(report.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          seq: '4',
          problem: expect.stringMatching(/does not link to the entry before/),
        }),
      ]),
    );
  });

  it('catches a wholesale rewrite of the chain against an anchored head hash', async () => {
    const victim = await recordStory(store);
    await recordStory(store);
    const anchored = (await verifyAuditChain(store.db)).head;

    // Someone with full write access edits a run and recomputes every hash after it.
    await store.db.query(`UPDATE plugin_run SET outputs = '{"findings":[{"value":0.1}]}' WHERE id = $1`, [
      victim.runId,
    ]);
    await store.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL session_replication_role = replica`);
      const [{ hash }] = await tx.query(
        `SELECT ${contentHashSql('plugin_run', 't')} AS hash FROM plugin_run t WHERE id = $1`,
        [victim.runId],
      );
      await tx.query(`UPDATE audit_log SET content_sha256 = $1 WHERE seq = 4`, [hash]);
      const rows = await tx.query(
        `SELECT seq::text AS seq, at, record_type, record_id, action, content_sha256 FROM audit_log ORDER BY audit_log.seq`,
      );
      let prev = GENESIS_HASH;
      for (const row of rows) {
        const hashed = entryHash({
          seq: row.seq,
          at: row.at,
          recordType: row.record_type,
          recordId: row.record_id,
          action: row.action,
          contentSha256: row.content_sha256,
          prevHash: prev,
        });
        await tx.query(`UPDATE audit_log SET prev_hash = $2, entry_hash = $3 WHERE seq = $1`, [
          row.seq,
          prev,
          hashed,
        ]);
        prev = hashed;
      }
      await tx.query(`UPDATE audit_chain_head SET entry_hash = $1`, [prev]);
    });

    expect((await verifyAuditChain(store.db)).valid).toBe(true); // on its own, a rewrite is consistent
    const report = await verifyAuditChain(store.db, { anchors: [anchored] });
    expect(report.firstBroken).toMatchObject({
      seq: '10',
      problem: 'entry 10 differs from its anchored hash: the chain was rewritten',
    });
    expect(parseAnchor(`${anchored.seq}:${anchored.entryHash}`)).toEqual(anchored);
    expect(() => parseAnchor('10:nothex')).toThrow(/not seq:sha256-hex/);
  });

  it('keeps one unforked chain when two processes write at once', async () => {
    const writer = resolve(__dirname, 'support/audit-writer.ts');
    const perProcess = 100;
    await Promise.all(
      [1, 2].map(() =>
        run(process.execPath, ['-r', '@swc-node/register', writer, store.database.url, String(perProcess)], {
          cwd: resolve(__dirname, '..'),
        }),
      ),
    );
    const report = await verifyAuditChain(store.db);
    expect(report.problems).toEqual([]);
    expect(report.entriesChecked).toBe(2 * perProcess * 5);
    const [{ count }] = await store.db.query(`SELECT count(*)::int AS count FROM plugin_run`);
    expect(count).toBe(2 * perProcess);
  }, 60_000);

  it('chains write-backs and status changes made at once, each with its own dead letter resolved once', async () => {
    const stories = await Promise.all([1, 2, 3].map(() => recordStory(store)));
    const deadLetters = new DeadLetterRepository(store.db, store.chain, store.adminActions);
    for (const story of stories.slice(0, 2)) {
      await deadLetters.open({
        runId: story.runId,
        sourceId: 'test-ehr',
        pluginId: 'prognosis-ascvd-pce',
        pluginVersion: '1.0.0',
        httpStatus: 503,
        reason: 'gave up',
        outcome: null,
        attempts: 3,
      });
    }
    const attempt = (runId: string, outcome: 'created' | 'superseded') => ({
      runId,
      sourceId: 'test-ehr',
      resourceType: 'Observation',
      resourceId: `risk-${randomUUID()}`,
      identifier: 'again',
      attempt: 2,
      httpStatus: outcome === 'created' ? 201 : 200,
      outcome,
      response: null,
    });
    // Submitted at once: the first two status changes take the chain's two transactions in flight,
    // so the rest share the next one, one statement per kind.
    const statuses = stories.map((s) => store.runs.openAndRoute(s.eventId, [], null));
    const [first, second, third] = await Promise.all([
      store.writeBacks.recordAll(
        [attempt(stories[0].runId, 'created'), attempt(stories[0].runId, 'superseded')],
        stories[0].runId,
      ),
      store.writeBacks.recordAll([attempt(stories[1].runId, 'created')], stories[1].runId),
      // The same run's dead letter asked for twice in one batch is resolved (and chained) once.
      store.writeBacks.recordAll([attempt(stories[1].runId, 'created')], stories[1].runId),
      store.writeBacks.recordAll([attempt(stories[2].runId, 'created')], stories[2].runId),
      ...statuses,
    ]);
    expect([first.length, second.length, third.length]).toEqual([2, 1, 1]);
    const ids = [...first, ...second, ...third];
    expect(
      await store.db.query(`SELECT count(*)::int AS count FROM write_back WHERE id = ANY($1)`, [ids]),
    ).toEqual([{ count: 4 }]);
    expect(
      await store.db.query(
        `SELECT record_type, action, count(*)::int AS count FROM audit_log
         WHERE action IN ('resolved', 'routed') GROUP BY 1, 2 ORDER BY 1`,
      ),
    ).toEqual([
      { record_type: 'dead_letter', action: 'resolved', count: 2 },
      { record_type: 'event', action: 'routed', count: 3 },
    ]);
    expect(await store.db.query(`SELECT status FROM dead_letter`)).toEqual([
      { status: 'resolved' },
      { status: 'resolved' },
    ]);
    expect((await verifyAuditChain(store.db)).problems).toEqual([]);

    // The run and its event read in one statement are the entities TypeORM reads.
    const read = await store.runs.getWithEvent(stories[0].runId);
    expect(read?.run).toEqual({
      ...(await store.db.getRepository(PluginRunEntity).findOneByOrFail({ id: stories[0].runId })),
    });
    expect(read?.event).toEqual({
      ...(await store.db.getRepository(EventEntity).findOneByOrFail({ id: stories[0].eventId })),
    });
    expect(await store.events.get(stories[0].eventId)).toEqual(read?.event);
    expect(await store.runs.getWithEvent(randomUUID())).toBeNull();
  });

  it('routes an event with its runs in one statement and one link, or not at all', async () => {
    const rows = workRows(store);
    const eventId = await rows.event(`routed-${randomUUID()}`, '1');
    const runOf = (pluginId: string, mode: 'live' | 'shadow' = 'live') => ({
      eventId,
      sourceId: 'test-ehr',
      pluginId,
      pluginVersion: '1.0.0',
      modelSha256: 'a'.repeat(64),
      mode,
    });
    const statements = async () => (await databaseStatementsTotal.get()).values[0]?.value ?? 0;
    const before = await statements();
    const opened = await store.runs.openAndRoute(eventId, [runOf('alpha'), runOf('beta', 'shadow')], null);
    // One round trip: the runs inserted, the event routed and every row chained by one statement.
    expect((await statements()) - before).toBe(1);
    expect(opened).toEqual([
      { id: expect.any(String), pending: true },
      { id: expect.any(String), pending: true },
    ]);
    const runIds = opened.map((run) => run.id);
    expect(await store.db.query(`SELECT status, reason FROM event WHERE id = $1`, [eventId])).toEqual([
      { status: 'routed', reason: null },
    ]);
    // One audit_append: consecutive entries with one time, the runs (by id) before the event.
    const linked = await store.db.query<
      Array<{ seq: number; at: Date; record_type: string; record_id: string; action: string }>
    >(`SELECT seq::int AS seq, at, record_type, record_id, action FROM audit_log ORDER BY seq DESC LIMIT 3`);
    expect(
      linked.reverse().map(({ record_type, record_id, action }) => [record_type, record_id, action]),
    ).toEqual([
      ...[...runIds].sort().map((id) => ['plugin_run', id, 'opened']),
      ['event', eventId, 'routed'],
    ]);
    expect(linked.map((entry) => entry.seq - linked[0].seq)).toEqual([0, 1, 2]);
    expect(new Set(linked.map((entry) => entry.at.toISOString())).size).toBe(1);

    // Routed again (a replay): the same runs, not opened twice; a finished one is no longer pending.
    await rows.succeed(runIds[0]);
    expect(
      await store.runs.openAndRoute(eventId, [runOf('alpha'), runOf('beta', 'shadow')], 'again'),
    ).toEqual([
      { id: runIds[0], pending: false },
      { id: runIds[1], pending: true },
    ]);
    expect(
      await store.db.query(`SELECT count(*)::int AS count FROM plugin_run WHERE event_id = $1`, [eventId]),
    ).toEqual([{ count: 2 }]);

    // A run that cannot be opened (it names a run that does not exist): the event is not routed.
    const other = await rows.event(`unrouted-${randomUUID()}`, '1');
    await expect(
      store.runs.openAndRoute(
        other,
        [{ ...runOf('alpha'), eventId: other, triggeredBy: randomUUID() }],
        null,
      ),
    ).rejects.toThrow(/foreign key/);
    expect(await store.db.query(`SELECT status FROM event WHERE id = $1`, [other])).toEqual([
      { status: 'accepted' },
    ]);
    expect(
      await store.db.query(`SELECT count(*)::int AS count FROM audit_log WHERE record_id = $1`, [other]),
    ).toEqual([{ count: 1 }]); // accepted only
    expect((await verifyAuditChain(store.db)).problems).toEqual([]);
  });

  it('fails only the items of a statement that failed: what committed beside it is kept once', async () => {
    const stories = await Promise.all([1, 2].map(() => recordStory(store)));
    const attempt = (runId: string) => ({
      runId,
      sourceId: 'test-ehr',
      resourceType: 'Observation',
      resourceId: `risk-${randomUUID()}`,
      identifier: 'once',
      attempt: 2,
      httpStatus: 201,
      outcome: 'created' as const,
      response: null,
    });
    // Submitted at once, so they share batches: the first two take the transactions in flight.
    const [, , good, bad, routed] = await Promise.allSettled([
      store.runs.openAndRoute(stories[0].eventId, [], null),
      store.runs.openAndRoute(stories[1].eventId, [], null),
      store.writeBacks.recordAll([attempt(stories[0].runId)]),
      store.writeBacks.recordAll([attempt(randomUUID())]), // no such run: refused by its foreign key
      store.runs.complete(stories[1].runId, { outcome: 'failed', reason: 'again' }),
    ]);
    expect(good.status).toBe('fulfilled');
    expect(bad).toMatchObject({
      status: 'rejected',
      reason: { message: expect.stringMatching(/foreign key/) },
    });
    expect(routed.status).toBe('fulfilled');
    const [id] = (good as PromiseFulfilledResult<string[]>).value;
    expect(
      await store.db.query(`SELECT record_type, action FROM audit_log WHERE record_id = $1`, [id]),
    ).toEqual([{ record_type: 'write_back', action: 'created' }]);
    expect(
      await store.db.query(
        `SELECT action, count(*)::int AS count FROM audit_log
         WHERE record_id = $1 AND action = 'failed' GROUP BY 1`,
        [stories[1].runId],
      ),
    ).toEqual([{ action: 'failed', count: 1 }]);
    expect((await verifyAuditChain(store.db)).problems).toEqual([]);
  });

  it('prunes old records behind a checkpoint and still verifies', async () => {
    const old = await recordStory(store);
    const oldButUpdated = await recordStory(store);
    // A cutoff a JS Date can carry (whole milliseconds), after every record so far: the database's
    // clock has microseconds, so a record of the same millisecond would otherwise fall either side.
    const [{ cutoff }] = (await store.db.query(
      `SELECT date_trunc('milliseconds', clock_timestamp()) + interval '1 millisecond' AS cutoff`,
    )) as Array<{ cutoff: Date }>;
    await eventually(
      async () =>
        (await store.db.query(`SELECT clock_timestamp() > $1 AS past`, [cutoff]))[0].past || undefined,
      'the database clock to pass the cutoff',
    );
    // Something happens to the second story after the cutoff: it must survive the prune.
    await store.writeBacks.record({
      runId: oldButUpdated.runId,
      sourceId: 'test-ehr',
      resourceType: 'Observation',
      resourceId: 'again',
      identifier: 'again',
      attempt: 2,
      httpStatus: 200,
      outcome: 'exists',
      response: null,
    });
    const fresh = await recordStory(store);

    const result = await store.retention.prune(cutoff);
    expect(result.checkpoint?.seq).toBe('10');
    expect(result.pruned).toMatchObject({
      write_back: 2,
      plugin_run: 1,
      event: 1,
      notification: 1,
      audit_log: 10,
    });
    expect(await store.db.query(`SELECT id FROM plugin_run WHERE id = $1`, [old.runId])).toEqual([]);
    expect(
      await store.db.query(`SELECT id FROM plugin_run WHERE id = $1`, [oldButUpdated.runId]),
    ).toHaveLength(1);
    expect(await store.db.query(`SELECT id FROM plugin_run WHERE id = $1`, [fresh.runId])).toHaveLength(1);

    const report = await verifyAuditChain(store.db);
    expect(report.problems).toEqual([]);
    expect(report.from).toMatchObject({ seq: '10', checkpoint: true });

    // Tampering after the checkpoint is still caught.
    await store.db.query(`UPDATE plugin_run SET outcome = 'failed' WHERE id = $1`, [fresh.runId]);
    expect((await verifyAuditChain(store.db)).firstBroken?.recordId).toBe(fresh.runId);
  });

  it('aegle audit verify exits 0 on an intact chain and 2 naming the first broken link', async () => {
    const story = await recordStory(store);
    const cli = (url: string | undefined) =>
      run(process.execPath, ['-r', '@swc-node/register', 'apps/engine/src/cli/main.ts', 'audit', 'verify'], {
        cwd: resolve(__dirname, '..'),
        env: { ...process.env, DATABASE_URL: url },
      }).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (error: { code: number; stdout: string; stderr: string }) => ({
          code: error.code,
          stdout: error.stdout + error.stderr,
        }),
      );
    const intact = await cli(store.database.url);
    expect(intact).toEqual({ code: 0, stdout: expect.stringMatching(/walked 5 entries[\s\S]*chain intact/) });

    await store.db.query(`UPDATE event SET focus_id = 'someone-else' WHERE id = $1`, [story.eventId]);
    const broken = await cli(store.database.url);
    expect(broken.code).toBe(2);
    expect(broken.stdout).toContain(
      `BROKEN: event ${story.eventId} was edited: it no longer matches entry 2`,
    );

    const unset = await cli('');
    expect(unset.code).toBe(1);
    expect(unset.stdout).toMatch(/DATABASE_URL is not set/);
  }, 60_000);
});

describe('the PHI policy on stored runs', () => {
  it('stores keyed hashes of the input values, not the values, under storeInputs: hash', async () => {
    const store = await createAuditStore(
      auditConfig({ storeInputs: 'hash', inputHashKey: 'hospital-secret-key' }),
    );
    try {
      const story = await recordStory(store);
      const [row] = await store.db.query(`SELECT inputs FROM plugin_run WHERE id = $1`, [story.runId]);
      expect(row.inputs.totalCholesterol).toEqual({
        unit: 'mg/dL',
        source: { reference: expect.stringMatching(/^Observation\/obs-.*\/_history\/1$/) },
        valueHmac: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      // No value 213 anywhere, as a number or a string (random ids and hashes may hold the digits).
      expect(JSON.stringify(row.inputs)).not.toMatch(/:"?213(\.0*)?"?[,}]/);
      expect((await verifyAuditChain(store.db)).valid).toBe(true);
    } finally {
      await store.close();
    }
  });
});

describe('upgrading a database that has audit rows but no chain', () => {
  it('chains the existing rows, oldest first, and verifies clean', async () => {
    const database = await createTestDatabase({ migrated: false });
    const db = new DataSource({
      type: 'postgres',
      url: database.url,
      migrations: [InitialSchema1764340000000],
    });
    try {
      await db.initialize();
      await db.runMigrations();
      const [n] = await db.query(
        `INSERT INTO notification (source_id, body_sha256, body_bytes, http_status) VALUES ('old', 'x', 1, 200) RETURNING id`,
      );
      const [e] = await db.query(
        `INSERT INTO event (notification_id, source_id, interaction, focus_type, focus_id, dedup_key, status)
         VALUES ($1, 'old', 'create', 'Observation', 'o1', 'old|o1', 'routed') RETURNING id`,
        [n.id],
      );
      await db.query(
        `INSERT INTO plugin_run (event_id, source_id, plugin_id, plugin_version, model_sha256, outcome)
         VALUES ($1, 'old', 'p', '1.0.0', 'm', 'skipped')`,
        [e.id],
      );
      await db.destroy();

      const upgraded = new DataSource({ type: 'postgres', url: database.url, migrations: AUDIT_MIGRATIONS });
      await upgraded.initialize();
      await upgraded.runMigrations();
      const entries = await upgraded.query(`SELECT record_type, action FROM audit_log ORDER BY seq`);
      expect(entries).toEqual([
        { record_type: 'notification', action: 'migrated' },
        { record_type: 'event', action: 'migrated' },
        { record_type: 'plugin_run', action: 'migrated' },
      ]);
      const report = await verifyAuditChain(upgraded);
      expect(report).toMatchObject({ valid: true, entriesChecked: 3, rowsChecked: 3 });
      await upgraded.destroy();
    } finally {
      if (db.isInitialized) await db.destroy();
      await database.drop();
    }
  });
});

describe('the retention schedule', () => {
  it('prunes what is older than audit.retention.maxAgeDays and leaves a chain that verifies', async () => {
    const config = auditConfig({ retention: { maxAgeDays: 1e-9, checkEveryMinutes: 60 } });
    const store = await createAuditStore(config);
    try {
      await recordStory(store);
      await recordStory(store);
      await store.chain.idle();
      // The cutoff is the scheduler's clock minus 86 µs: let both clocks move clearly past the last write.
      await store.db.query(`SELECT pg_sleep(0.05)`);
      const [{ now }] = await store.db.query(`SELECT clock_timestamp() AS now`);
      await new AuditRetentionScheduler(config, store.retention).pruneNow();
      const [{ count }] = await store.db.query(`SELECT count(*)::int AS count FROM plugin_run`);
      expect(count).toBe(0);
      const [checkpoint] = await store.db.query(`SELECT seq::int AS seq, cutoff FROM audit_checkpoint`);
      expect(checkpoint.seq).toBe(10);
      expect(checkpoint.cutoff.getTime()).toBeGreaterThanOrEqual(new Date(now).getTime() - 1);
      await recordStory(store);
      const report = await verifyAuditChain(store.db);
      expect(report.problems).toEqual([]);
      expect(report.from).toMatchObject({ seq: '10', checkpoint: true });
      expect(report.entriesChecked).toBe(6); // the checkpoint's own entry, then the new story
    } finally {
      await store.close();
    }
  });
});
