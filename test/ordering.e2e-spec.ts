import { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { QUEUES, redisConnection } from '@aegle/jobs';
import { AegleProcess, spawnAegle } from './support/aegle-process';
import { RunningAegle, startAegle, TEST_REDIS_URL, TestSource } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { eventually, json } from './support/http';
import { takenAgain, timesTaken } from './support/job-barriers';
import { bloodPressurePanel, lab, NEVER_SMOKER, patient, smokingStatus } from './fixtures/patients';

jest.setTimeout(180_000);

const TOKEN = 'ordering-inbound-token';
const PATIENT = 'ord-p';
const FOCUS = 'ord-tc';
const PCE_CODE = '79423-0';

interface EventRow {
  id: string;
  version: number;
  status: string;
  reason: string | null;
  claimed: boolean;
  created_at: Date;
}

/**
 * Issue 9's ordering guarantee with everything real: versions of one lab result delivered at once,
 * shuffled, to two worker processes (this one, router concurrency 16, and a ROLE=worker child) that
 * share PostgreSQL and Redis. The EHR holds the first live result's write-back until the second wave
 * is in, so newer versions arrive while an older one is still being processed.
 */
describe('ordering: versions of one resource are processed in version order', () => {
  let ehr: TestFhirServer;
  let aegle: RunningAegle;
  let worker: AegleProcess;
  let db: DataSource;
  let openGate: () => void = () => undefined;
  let gateHeld: Promise<void>;
  let routing: Queue;

  beforeAll(async () => {
    ehr = await startFhirServer();
    await ehr.seed([
      patient(PATIENT, { gender: 'female', age: 55 }),
      lab(FOCUS, PATIENT, '2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', 213, 'mg/dL'),
      lab('ord-hdl', PATIENT, '2085-9', 'HDL Cholesterol', 50, 'mg/dL'),
      bloodPressurePanel('ord-bp', PATIENT, 120, 78),
      smokingStatus('ord-smk', PATIENT, ...NEVER_SMOKER),
    ]);
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let held: () => void;
    gateHeld = new Promise<void>((resolve) => (held = resolve));
    // The first result's transaction (Observation + Provenance) waits until the test opens the gate.
    ehr.onRequest(async (req) => {
      const body = req.body as { resourceType?: string; type?: string } | undefined;
      if (req.method !== 'POST' || body?.resourceType !== 'Bundle' || body.type !== 'transaction') return;
      held();
      await gate;
    });
    const sources: TestSource[] = [{ id: 'test-ehr', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }];
    aegle = await startAegle({ sources });
    db = aegle.db;
    routing = new Queue(QUEUES.events, {
      connection: redisConnection(TEST_REDIS_URL),
      prefix: aegle.config.queuePrefix,
    });
    worker = await spawnAegle({
      databaseUrl: aegle.config.databaseUrl!,
      redisUrl: TEST_REDIS_URL,
      queuePrefix: aegle.config.queuePrefix,
      sources,
      role: 'worker',
    });
  });

  afterAll(async () => {
    openGate();
    await routing?.close();
    await worker?.stop();
    await aegle?.close();
    await ehr?.close();
  });

  /** Version `v` of the cholesterol result, as a rest-hook notification carries it. */
  const notifyVersion = (v: number) =>
    fetch(`${aegle.url}/fhir/notify/test-ehr`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({
        ...lab(FOCUS, PATIENT, '2093-3', 'Cholesterol', 200 + v, 'mg/dL'),
        meta: { versionId: String(v) },
      }),
    });

  async function deliver(versions: number[]): Promise<void> {
    const answers = await Promise.all(versions.map(notifyVersion));
    expect(answers.map((a) => a.status)).toEqual(versions.map(() => 200));
  }

  const events = (): Promise<EventRow[]> =>
    db.query(
      `SELECT id, focus_version::int AS version, status, reason, claimed_at IS NOT NULL AS claimed, created_at
       FROM event WHERE focus_id = $1 ORDER BY focus_version::int`,
      [FOCUS],
    );

  it('routes versions in increasing order, each after the previous one’s runs ended; late ones are stale', async () => {
    // Wave 1, shuffled and at once: one of them is taken first and its write-back is held.
    await deliver([2, 4, 3]);
    await gateHeld;
    const [first] = await db.query<Array<{ version: number }>>(
      `SELECT e.focus_version::int AS version FROM event e JOIN plugin_run r ON r.event_id = e.id
       WHERE e.focus_id = $1 AND r.outcome = 'succeeded'`,
      [FOCUS],
    );

    // Wave 2 while that version is in flight: newer ones must wait for it, older ones are stale.
    await deliver([9, 1, 8, 5, 7]);
    const settled = await eventually(async () => {
      const rows = await events();
      const older = rows.filter((r) => r.version < first.version);
      return rows.length === 8 && older.every((r) => r.status === 'stale') ? rows : undefined;
    }, 'the versions older than the one in flight to be stale');
    // Room for a wrong claim to show: each newer version asks twice more and is held each time.
    const newer = settled.filter((r) => r.version > first.version).map((r) => r.id);
    await takenAgain(
      routing,
      newer,
      await timesTaken(routing, newer),
      2,
      'the newer versions to ask twice more',
    );
    const held = await events();
    expect(held.filter((r) => r.claimed && r.status !== 'stale').map((r) => r.version)).toEqual([
      first.version,
    ]);
    expect(held.filter((r) => r.status === 'routed').map((r) => r.version)).toEqual([first.version]);
    expect(settled.filter((r) => r.version > first.version).every((r) => r.status === 'accepted')).toBe(true);

    openGate();
    await aegle.waitForIdle(60_000);
    // Late: an older version that was never sent yet, and one sent before.
    await deliver([6]);
    expect((await json<fhir4.OperationOutcome>(await notifyVersion(9))).issue[0].diagnostics).toMatch(
      /already received/,
    );
    await aegle.waitForIdle(60_000);

    const rows = await events();
    expect(rows.map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Nothing stuck: every version routed or stale, every run ended.
    expect(rows.filter((r) => r.status !== 'routed' && r.status !== 'stale')).toEqual([]);
    const [{ unfinished }] = await db.query(
      `SELECT count(*)::int AS unfinished FROM plugin_run r JOIN event e ON e.id = r.event_id
       WHERE e.focus_id = $1 AND (r.outcome = 'pending' OR (r.outcome = 'succeeded' AND r.mode <> 'shadow'
         AND NOT EXISTS (SELECT 1 FROM write_back w WHERE w.run_id = r.id AND w.outcome = 'created')))`,
      [FOCUS],
    );
    expect(unfinished).toBe(0);

    // Stale ones: the reason, and their record in the audit chain.
    const stale = rows.filter((r) => r.status === 'stale');
    expect(stale.map((r) => r.version)).toEqual(expect.arrayContaining([1, 6]));
    for (const row of stale) {
      expect(row.reason).toMatch(/^a newer version \(\d+\) of this resource was processed first$/);
      expect(Number(/\((\d+)\)/.exec(row.reason!)![1])).toBeGreaterThan(row.version);
    }
    const staleEntries = await db.query<Array<{ record_id: string }>>(
      `SELECT record_id FROM audit_log WHERE record_type = 'event' AND action = 'stale'
       AND record_id = ANY($1::text[])`,
      [stale.map((r) => r.id)],
    );
    expect(staleEntries.map((e) => e.record_id).sort()).toEqual(stale.map((r) => r.id).sort());

    // Routed in strictly increasing version order (the audit chain's order), each one's runs opened
    // only after every run of the one before had ended (its result written).
    const routed = await db.query<Array<{ version: number; event_id: string; routed_at: Date }>>(
      `SELECT e.focus_version::int AS version, e.id AS event_id, a.at AS routed_at
       FROM audit_log a JOIN event e ON e.id::text = a.record_id
       WHERE a.record_type = 'event' AND a.action = 'routed' AND e.focus_id = $1 ORDER BY a.seq`,
      [FOCUS],
    );
    const versions = routed.map((r) => r.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
    expect(versions[0]).toBe(first.version);
    expect(versions.at(-1)).toBe(9);
    const spans = await db.query<Array<{ event_id: string; opened: Date; ended: Date }>>(
      `SELECT r.event_id, min(r.created_at) AS opened,
              max(coalesce((SELECT max(w.created_at) FROM write_back w WHERE w.run_id = r.id), r.finished_at)) AS ended
       FROM plugin_run r WHERE r.event_id = ANY($1::uuid[]) GROUP BY r.event_id`,
      [routed.map((r) => r.event_id)],
    );
    const span = new Map(spans.map((s) => [s.event_id, s]));
    expect(span.size).toBe(routed.length);
    for (let i = 1; i < routed.length; i++) {
      const before = span.get(routed[i - 1].event_id)!;
      const after = span.get(routed[i].event_id)!;
      expect(after.opened.getTime()).toBeGreaterThan(before.ended.getTime());
    }
    // Version 9 arrived while the first version was in flight, and waited for it.
    const newest = rows.find((r) => r.version === 9)!;
    expect(newest.created_at.getTime()).toBeLessThan(span.get(routed[0].event_id)!.ended.getTime());

    // In the EHR: one result per routed version, the newest version's live, every other superseded.
    const bundle = await json<fhir4.Bundle>(
      fetch(`${ehr.baseUrl}/Observation?subject=Patient/${PATIENT}&code=http://loinc.org|${PCE_CODE}`),
    );
    const results = (bundle.entry ?? []).map((e) => e.resource as fhir4.Observation);
    expect(results).toHaveLength(routed.length);
    const [newestWrite] = await db.query<Array<{ resource_id: string }>>(
      `SELECT w.resource_id FROM write_back w JOIN plugin_run r ON r.id = w.run_id
       WHERE r.event_id = $1 AND w.outcome = 'created'`,
      [newest.id],
    );
    const live = results.filter((o) => o.status !== 'amended');
    expect(live.map((o) => o.id)).toEqual([newestWrite.resource_id]);
  });
});
