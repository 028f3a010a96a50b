import { getQueueToken } from '@nestjs/bullmq';
import { Command } from 'commander';
import { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { QUEUES } from '@aegle/jobs';
import { registerDeadLetterCommands } from '../apps/engine/src/cli/commands/dead-letters';
import { startAegle, RunningAegle } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { validateR4 } from './support/fhir-validation';
import { json } from './support/http';
import { bloodPressurePanel, lab, NEVER_SMOKER, patient, smokingStatus } from './fixtures/patients';

const TOKEN = 'e2e-inbound-token';
const ADMIN = 'e2e-admin-token-123';
const PCE_CODE = '79423-0';
const SUPERSEDED_BY = 'https://fhir.aegle.dev/StructureDefinition/superseded-by';
const REPLACES = 'http://hl7.org/fhir/StructureDefinition/observation-replaces';

/** A write to the EHR (results, Provenance, Device, supersession); reads (a batch of searches too) are left alone. */
const isWrite = (req: { method: string; path: string; body?: unknown }) =>
  (req.method === 'POST' || req.method === 'PUT') && !isBatch(req);
const isBatch = (req: { body?: unknown }) => (req.body as { type?: string } | undefined)?.type === 'batch';

describe('write-back: results reach the EHR exactly once, whatever fails on the way', () => {
  let ehr: TestFhirServer;
  /** A second EHR whose writes always fail, with a short horizon: its own breaker, its own fate. */
  let downEhr: TestFhirServer;
  /** A third EHR that takes no transaction Bundles, as many do not. */
  let plainEhr: TestFhirServer;
  let aegle: RunningAegle;
  let db: DataSource;

  beforeAll(async () => {
    ehr = await startFhirServer();
    downEhr = await startFhirServer();
    plainEhr = await startFhirServer();
    plainEhr.onRequest((req) =>
      req.method === 'POST' && /^\/fhir\/?(\?|$)/.test(req.path) && !isBatch(req)
        ? {
            status: 405,
            body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-supported' }] },
          }
        : undefined,
    );
    aegle = await startAegle({
      adminToken: ADMIN,
      sources: [
        {
          id: 'test-ehr',
          fhirBaseUrl: ehr.baseUrl,
          bearerToken: TOKEN,
          // Fast enough for a test, the same code paths as the 24-hour production horizon.
          writeBack: {
            backoffBaseMs: 20,
            backoffMaxMs: 200,
            breakerThreshold: 3,
            breakerCooldownMs: 150,
            retryHorizonMs: 60_000,
          },
        },
        {
          id: 'down-ehr',
          fhirBaseUrl: downEhr.baseUrl,
          bearerToken: TOKEN,
          writeBack: {
            backoffBaseMs: 20,
            backoffMaxMs: 100,
            breakerThreshold: 2,
            breakerCooldownMs: 100,
            retryHorizonMs: 1_500,
          },
        },
        {
          id: 'plain-ehr',
          fhirBaseUrl: plainEhr.baseUrl,
          bearerToken: TOKEN,
          writeBack: { transactions: false, supersede: 'cancelled' },
        },
      ],
    });
    db = aegle.db;
  });

  afterEach(() => ehr.onRequest(undefined));

  afterAll(async () => {
    await aegle?.close();
    await ehr?.close();
    await downEhr?.close();
    await plainEhr?.close();
  });

  const notify = (body: unknown) =>
    fetch(`${aegle.url}/fhir/notify/test-ehr`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
    });

  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${aegle.url}/api/dead-letters${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${ADMIN}`,
        'content-type': 'application/json',
        'x-aegle-actor': 'e2e-operator',
        ...init.headers,
      },
    });

  async function search<T extends fhir4.Resource>(query: string): Promise<T[]> {
    const bundle = await json<fhir4.Bundle>(fetch(`${ehr.baseUrl}/${query}`));
    return (bundle.entry ?? []).map((e) => e.resource as T);
  }
  const riskObservations = (patientId: string) =>
    search<fhir4.Observation>(`Observation?subject=Patient/${patientId}&code=http://loinc.org|${PCE_CODE}`);
  const provenances = (observationId: string) =>
    search<fhir4.Provenance>(`Provenance?target=Observation/${observationId}`);

  /** A complete PCE patient; returns the cholesterol Observation that triggers the plugin. */
  async function seedPatient(id: string, cholesterol = 213): Promise<fhir4.Observation & { id: string }> {
    const [, tc] = await ehr.seed([
      patient(id, { gender: 'female', age: 55 }),
      lab(`${id}-tc`, id, '2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', cholesterol, 'mg/dL'),
      lab(`${id}-hdl`, id, '2085-9', 'HDL Cholesterol', 50, 'mg/dL'),
      bloodPressurePanel(`${id}-bp`, id, 120, 78),
      smokingStatus(`${id}-smk`, id, ...NEVER_SMOKER),
    ]);
    return tc as fhir4.Observation & { id: string };
  }

  async function runOf(patientId: string): Promise<{ id: string }> {
    const [run] = await db.query(`SELECT id FROM plugin_run WHERE patient_ref = $1 ORDER BY created_at`, [
      `Patient/${patientId}`,
    ]);
    return run;
  }

  it('writes a complete, valid, AI-labelled Observation with its Device and Provenance', async () => {
    const tc = await seedPatient('wb-full');
    expect((await notify(tc)).status).toBe(200);
    await aegle.waitForIdle();

    const [risk, ...others] = await riskObservations('wb-full');
    expect(others).toHaveLength(0);
    validateR4(risk as never);
    expect(risk).toMatchObject({
      status: 'preliminary',
      category: [{ coding: [expect.objectContaining({ code: 'survey' })] }],
      subject: { reference: 'Patient/wb-full' },
      valueQuantity: { system: 'http://unitsofmeasure.org', code: '%' },
      method: { text: expect.stringMatching(/Pooled Cohort/) },
    });
    expect(risk.effectiveDateTime).toBeDefined();
    expect(risk.issued).toBeDefined();
    expect(risk.interpretation?.[0].text).toMatch(/10-year ASCVD risk/);
    expect(risk.meta?.security).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
          code: 'AIAST',
        }),
      ]),
    );
    expect(risk.note?.[0].text).toMatch(/prognosis-ascvd-pce 1\.0\.0/);
    expect(risk.note?.[0].text).toMatch(/[Dd]ecision support, not reviewed/);
    expect(risk.identifier?.[0]).toMatchObject({ system: 'https://fhir.aegle.dev/sid/result-key' });
    for (const ref of risk.derivedFrom ?? []) expect(ref.reference).toMatch(/^\w+\/[^/]+\/_history\/[^/]+$/);
    expect(risk.derivedFrom).toEqual(
      expect.arrayContaining([{ reference: `Observation/wb-full-tc/_history/${tc.meta!.versionId}` }]),
    );

    const device = await json<fhir4.Device>(fetch(`${ehr.baseUrl}/${risk.device!.reference}`));
    validateR4(device as never);
    expect(device).toMatchObject({
      manufacturer: 'Aegle reference plugins',
      type: { coding: [expect.objectContaining({ system: 'http://snomed.info/sct' })] },
    });
    expect(device.deviceName?.map((n) => n.type)).toEqual(['user-friendly-name', 'model-name']);
    expect(device.version).toEqual(
      expect.arrayContaining([
        { value: '1.0.0' },
        expect.objectContaining({ value: expect.stringMatching(/^[a-f0-9]{64}$/) }),
      ]),
    );

    const [provenance, ...moreProvenance] = await provenances(risk.id!);
    expect(moreProvenance).toHaveLength(0);
    validateR4(provenance as never);
    expect(provenance.agent[0]).toMatchObject({
      type: { coding: [expect.objectContaining({ code: 'author' })] },
      who: { reference: risk.device!.reference },
      onBehalfOf: { display: 'Aegle' },
    });
    const entities = provenance.entity?.map((e) => e.what.reference) ?? [];
    expect(entities).toEqual(expect.arrayContaining(risk.derivedFrom!.map((r) => r.reference)));
    // R4 allows no Patient in derivedFrom; the Provenance names every input, the Patient included.
    expect(risk.derivedFrom!.every((r) => r.reference!.startsWith('Observation/'))).toBe(true);
    expect(entities.some((r) => r!.startsWith('Patient/wb-full/_history/'))).toBe(true);
  });

  it('keeps every result through an EHR outage (503s), writes each exactly once, and trips the breaker', async () => {
    const patients = ['wb-out-1', 'wb-out-2', 'wb-out-3'];
    const triggers = await Promise.all(patients.map((id) => seedPatient(id)));
    let refused = 0;
    const refusedAt: number[] = [];
    ehr.onRequest((req) => {
      if (!isWrite(req) || refused >= 12) return;
      refused++;
      refusedAt.push(Date.now());
      return {
        status: 503,
        body: {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'transient', diagnostics: 'down for maintenance' }],
        },
      };
    });
    for (const tc of triggers) expect((await notify(tc)).status).toBe(200);
    await aegle.waitForIdle(30_000);

    expect(refused).toBe(12);
    for (const id of patients) {
      const observations = await riskObservations(id);
      expect(observations).toHaveLength(1);
      expect(await provenances(observations[0].id!)).toHaveLength(1);
    }
    const retries = await db.query(
      `SELECT count(*)::int AS n FROM write_back WHERE outcome = 'retrying' AND http_status = 503`,
    );
    expect(retries[0].n).toBe(12);
    expect(await db.query(`SELECT * FROM dead_letter`)).toEqual([]);
    // The breaker opened after 3 failures in a row, so the EHR then saw about one probe per 150 ms
    // cooldown (a few requests already in flight aside); backoff alone would have sent all 12 in ~0.3 s.
    expect(refusedAt[11] - refusedAt[2]).toBeGreaterThanOrEqual(6 * 150);
    const metrics = await (await fetch(`${aegle.url}/metrics`)).text();
    expect(metrics).toMatch(/aegle_writeback_breaker_transitions_total\{source="test-ehr",to="open"\} [1-9]/);
    expect(metrics).toMatch(/aegle_writeback_attempts_total\{source="test-ehr",outcome="retrying"\} 12/);
    expect(metrics).toMatch(/aegle_writeback_breaker_state\{source="test-ehr",state="closed"\} 1/);
  });

  /**
   * Answers the first request `matches` picks with 429 and `Retry-After` (seconds); returns the
   * times every such request arrived, as they come.
   */
  function throttleFirst(
    matches: (req: { method: string; path: string; body?: unknown }) => boolean,
    retryAfter: number,
  ) {
    const arrivals: number[] = [];
    ehr.onRequest((req) => {
      if (!matches(req)) return;
      arrivals.push(Date.now());
      if (arrivals.length === 1) {
        return {
          status: 429,
          headers: { 'Retry-After': String(retryAfter) },
          body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'throttled' }] },
        };
      }
    });
    return arrivals;
  }

  it('waits as long as Retry-After says on a 429', async () => {
    const tc = await seedPatient('wb-429');
    const writes = throttleFirst(isWrite, 1);
    expect((await notify(tc)).status).toBe(200);
    await aegle.waitForIdle();
    expect(await riskObservations('wb-429')).toHaveLength(1);
    expect(writes[1] - writes[0]).toBeGreaterThanOrEqual(1000);
  });

  it("backs a run off as long as the EHR's Retry-After says when the inputs batch is answered 429", async () => {
    const tc = await seedPatient('run-429');
    const batches = throttleFirst(isBatch, 2);
    expect((await notify(tc)).status).toBe(200);
    await aegle.waitForIdle();
    expect(await riskObservations('run-429')).toHaveLength(1);
    // The run's own back-off would have tried again after 500 ms.
    expect(batches[1] - batches[0]).toBeGreaterThanOrEqual(2000);
  });

  it('retries a lost update race (412) instead of giving up', async () => {
    const tc = await seedPatient('wb-412');
    let raced = false;
    ehr.onRequest((req) => {
      if (raced || req.method !== 'POST' || !/^\/fhir\/?$/.test(req.path) || isBatch(req)) return;
      raced = true;
      return {
        status: 412,
        body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'conflict' }] },
      };
    });
    expect((await notify(tc)).status).toBe(200);
    await aegle.waitForIdle();
    expect(raced).toBe(true);
    expect(await riskObservations('wb-412')).toHaveLength(1);
    const run = await runOf('wb-412');
    const writes = await db.query(
      `SELECT outcome, http_status FROM write_back WHERE run_id = $1 ORDER BY created_at`,
      [run.id],
    );
    expect(writes).toEqual([
      { outcome: 'retrying', http_status: 412 },
      { outcome: 'created', http_status: 201 },
    ]);
  });

  it('writes one Observation for the same notification sent five times, and for a job run again', async () => {
    const tc = await seedPatient('wb-five');
    const responses = await Promise.all(Array.from({ length: 5 }, () => notify(tc)));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    await aegle.waitForIdle();
    const [first, ...others] = await riskObservations('wb-five');
    expect(others).toHaveLength(0);

    // The same run written again (a retried job after a lost response): still one, with one Provenance.
    const run = await runOf('wb-five');
    const queue = aegle.app.get<Queue>(getQueueToken(QUEUES.writeback));
    await queue.add('write', { runId: run.id }, { jobId: `${run.id}-again` });
    await aegle.waitForIdle();
    const after = await riskObservations('wb-five');
    expect(after.map((o) => o.id)).toEqual([first.id]);
    expect(await provenances(first.id!)).toHaveLength(1);
    const writes = await db.query(`SELECT outcome FROM write_back WHERE run_id = $1 ORDER BY created_at`, [
      run.id,
    ]);
    expect(writes.map((w: { outcome: string }) => w.outcome)).toEqual(['created', 'exists']);
  });

  it("asks for a transaction's entries without their resources, and finds the result by its identifier where the EHR names no location", async () => {
    // An EHR that honours Prefer: return=minimal and leaves out the entries' locations too.
    const preferences: Array<string | undefined> = [];
    ehr.onRequest(async (req) => {
      if (
        req.headers['x-test-forwarded'] ||
        (req.body as { type?: string } | undefined)?.type !== 'transaction'
      )
        return undefined;
      preferences.push(req.headers.prefer as string | undefined);
      const answer = await fetch(ehr.baseUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/fhir+json',
          'x-test-forwarded': '1',
          ...(req.headers.prefer ? { prefer: String(req.headers.prefer) } : {}),
        },
        body: JSON.stringify(req.body),
      });
      const bundle = (await answer.json()) as fhir4.Bundle;
      return {
        status: answer.status,
        body: {
          ...bundle,
          entry: bundle.entry?.map(({ response }) => ({ response: { status: response!.status } })),
        },
      };
    });
    const tc = await seedPatient('wb-minimal');
    await notify(tc);
    await aegle.waitForIdle();
    const run = await runOf('wb-minimal');
    const queue = aegle.app.get<Queue>(getQueueToken(QUEUES.writeback));
    await queue.add('write', { runId: run.id }, { jobId: `${run.id}-again` });
    await aegle.waitForIdle();

    expect(preferences).toEqual(['return=minimal', 'return=minimal']);
    const [risk, ...others] = await riskObservations('wb-minimal');
    expect(others).toHaveLength(0);
    expect(await provenances(risk.id!)).toHaveLength(1);
    const writes = await db.query(
      `SELECT outcome, resource_id FROM write_back WHERE run_id = $1 ORDER BY created_at`,
      [run.id],
    );
    expect(writes).toEqual([
      { outcome: 'created', resource_id: risk.id },
      { outcome: 'exists', resource_id: risk.id },
    ]);
  });

  it('makes a 400 a dead letter at once, keeps the OperationOutcome, and replays it idempotently', async () => {
    const tc = await seedPatient('wb-400');
    let writes = 0;
    ehr.onRequest((req) => {
      if (!isWrite(req)) return;
      writes++;
      return {
        status: 400,
        body: {
          resourceType: 'OperationOutcome',
          issue: [
            { severity: 'error', code: 'business-rule', diagnostics: 'Observation.code not allowed here' },
          ],
        },
      };
    });
    expect((await notify(tc)).status).toBe(200);
    await aegle.waitForIdle();
    expect(writes).toBe(1); // not retried
    expect(await riskObservations('wb-400')).toHaveLength(0);

    const run = await runOf('wb-400');
    const open = await json<Array<{ id: string; runId: string; httpStatus: number; outcome: unknown }>>(
      admin('?status=open&httpStatus=400'),
    );
    const letter = open.find((d) => d.runId === run.id)!;
    expect(letter).toMatchObject({
      httpStatus: 400,
      outcome: { issue: [expect.objectContaining({ diagnostics: 'Observation.code not allowed here' })] },
    });
    const detail = await json<{ attempts: Array<{ outcome: string }> }>(admin(`/${letter.id}`));
    expect(detail.attempts.map((a) => a.outcome)).toEqual(['dead']);
    expect((await fetch(`${aegle.url}/api/dead-letters`)).status).toBe(401);
    const openApi = await json<{ paths: Record<string, unknown> }>(fetch(`${aegle.url}/api/docs-json`));
    expect(Object.keys(openApi.paths)).toEqual(
      expect.arrayContaining([
        '/api/dead-letters',
        '/api/dead-letters/{id}',
        '/api/dead-letters/{id}/replay',
        '/api/dead-letters/replay',
      ]),
    );
    expect((await admin('?status=lost')).status).toBe(400);

    // The EHR's rule is fixed; the operator replays it twice (a double click): one Observation.
    ehr.onRequest(undefined);
    const from = ehr.requests.length;
    const replays = await Promise.all([
      admin(`/${letter.id}/replay`, { method: 'POST' }),
      admin(`/${letter.id}/replay`, { method: 'POST' }),
    ]);
    expect(replays.map((r) => r.status)).toEqual([202, 202]);
    await aegle.waitForIdle();
    const [risk, ...others] = await riskObservations('wb-400');
    expect(others).toHaveLength(0);
    // After a refusal the remembered Device is not trusted: the replay ensures it (conditionally) again.
    const devices = ehr.requests.slice(from).filter((r) => r.method === 'POST' && r.path === '/fhir/Device');
    expect(devices.length).toBeGreaterThan(0);
    expect(devices.every((r) => r.headers['if-none-exist'] && r.status === 200)).toBe(true);
    expect(await provenances(risk.id!)).toHaveLength(1);
    const resolved = await json<{ deadLetter: { status: string; replayCount: number } }>(
      admin(`/${letter.id}`),
    );
    expect(resolved.deadLetter.status).toBe('resolved');
    // Replaying a resolved one does nothing.
    expect(await json(admin(`/${letter.id}/replay`, { method: 'POST' }))).toEqual({
      id: letter.id,
      status: 'resolved',
    });
    const actions = await db.query(`SELECT action, actor, target FROM admin_action WHERE target = $1`, [
      letter.id,
    ]);
    expect(actions).toHaveLength(3);
    expect(actions[0]).toMatchObject({ action: 'dead-letter.replay', actor: 'e2e-operator' });
  });

  it('lists, shows and replays dead letters from the CLI, by filter', async () => {
    const triggers = await Promise.all(['wb-cli-1', 'wb-cli-2'].map((id) => seedPatient(id)));
    ehr.onRequest((req) =>
      isWrite(req)
        ? {
            status: 422,
            body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid' }] },
          }
        : undefined,
    );
    for (const tc of triggers) await notify(tc);
    await aegle.waitForIdle();
    ehr.onRequest(undefined);

    const cli = async (...args: string[]) => {
      let printed = '';
      const program = new Command('aegle').exitOverride();
      registerDeadLetterCommands(program, (t) => (printed += t), {
        AEGLE_ADMIN_TOKEN: ADMIN,
        USER: 'e2e',
      });
      await program.parseAsync(['dead-letters', '--url', aegle.url, ...args], { from: 'user' });
      return printed;
    };
    const listed = JSON.parse(await cli('--json', 'list', '--http-status', '422')) as Array<{ id: string }>;
    expect(listed).toHaveLength(2);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect(JSON.parse(await cli('--json', 'list', '--http-status', '422', '--since', future))).toEqual([]);
    expect(JSON.parse(await cli('--json', 'list', '--http-status', '422', '--before', future))).toHaveLength(
      2,
    );
    expect(JSON.parse(await cli('--json', 'list', '--plugin', 'prognosis-nothing'))).toEqual([]);
    expect(JSON.parse(await cli('--json', 'list', '--source', 'test-ehr', '--limit', '1'))).toHaveLength(1);
    expect(await cli('list', '--http-status', '422')).toMatch(
      /^ID\tSTATUS.*\n.*open\ttest-ehr\tprognosis-ascvd-pce@1\.0\.0\t422/,
    );
    expect(JSON.parse(await cli('show', listed[0].id)).deadLetter.id).toBe(listed[0].id);
    await expect(cli('replay')).rejects.toThrow(/--all/);

    const replayed = await cli('replay', '--all', '--http-status', '422');
    expect(replayed.trim().split('\n')).toHaveLength(2);
    await aegle.waitForIdle();
    expect(await riskObservations('wb-cli-1')).toHaveLength(1);
    expect(await riskObservations('wb-cli-2')).toHaveLength(1);
    expect(await cli('list', '--http-status', '422')).toBe('no dead letters match\n');
    const actors = await db.query(`SELECT DISTINCT actor FROM admin_action WHERE actor LIKE 'cli:%'`);
    expect(actors).toEqual([{ actor: 'cli:e2e' }]);
  });

  it('marks the earlier result superseded, visibly, when newer inputs give a new one', async () => {
    const tc = await seedPatient('wb-sup', 213);
    expect((await notify(tc)).status).toBe(200);
    await aegle.waitForIdle();
    const [earlier] = await riskObservations('wb-sup');

    // A new cholesterol result: a new version of the same Observation, later in clinical time.
    const updated = await json<fhir4.Observation>(
      fetch(`${ehr.baseUrl}/Observation/${tc.id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify({
          ...tc,
          effectiveDateTime: new Date().toISOString(),
          valueQuantity: { ...tc.valueQuantity, value: 260 },
        }),
      }),
    );
    expect(updated.meta?.versionId).not.toBe(tc.meta?.versionId);
    const from = ehr.requests.length;
    expect((await notify(updated)).status).toBe(200);
    await aegle.waitForIdle();
    // The earlier result was recorded moments before the run read the EHR: searched for again.
    expect(
      ehr.requests.slice(from).filter((r) => /^\/fhir\/Observation\?.*\bsubject=/.test(r.path)),
    ).toHaveLength(1);

    const all = await riskObservations('wb-sup');
    expect(all).toHaveLength(2);
    const before = all.find((o) => o.id === earlier.id)!;
    const latest = all.find((o) => o.id !== earlier.id)!;
    expect(latest.valueQuantity!.value).toBeGreaterThan(earlier.valueQuantity!.value!);
    expect(latest.status).toBe('preliminary');
    expect(latest.extension).toEqual([
      { url: REPLACES, valueReference: { reference: `Observation/${earlier.id}` } },
    ]);
    expect(before.status).toBe('amended');
    expect(before.extension).toEqual([
      { url: SUPERSEDED_BY, valueReference: { reference: `Observation/${latest.id}` } },
    ]);
    expect(before.note?.at(-1)?.text).toMatch(/^Superseded/);
    validateR4(before as never);
    validateR4(latest as never);
    const audit = await db.query(`SELECT resource_id FROM write_back WHERE outcome = 'superseded'`);
    expect(audit).toEqual([{ resource_id: earlier.id }]);

    // The same newer notification again changes nothing.
    await queueAgain('wb-sup');
    expect((await riskObservations('wb-sup')).map((o) => o.status).sort()).toEqual([
      'amended',
      'preliminary',
    ]);
  });

  it('supersedes with the earlier results read in the inputs batch, and asks the EHR no more', async () => {
    const tc = await seedPatient('wb-one-read', 213);
    expect((await notify(tc)).status).toBe(200);
    await aegle.waitForIdle();
    const [earlier] = await riskObservations('wb-one-read');
    // Recorded a minute ago: no result written since could be missing from the next run's read.
    await db.query(`UPDATE write_back SET created_at = created_at - interval '1 minute' WHERE run_id = $1`, [
      (await runOf('wb-one-read')).id,
    ]);

    const updated = await json<fhir4.Observation>(
      fetch(`${ehr.baseUrl}/Observation/${tc.id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ ...tc, effectiveDateTime: new Date().toISOString() }),
      }),
    );
    const from = ehr.requests.length;
    expect((await notify(updated)).status).toBe(200);
    await aegle.waitForIdle();

    // The inputs and the earlier results in one batch, then the result's transaction: two requests.
    expect(ehr.requests.slice(from).map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /fhir/',
      'POST /fhir/',
    ]);
    const all = await riskObservations('wb-one-read');
    expect(all).toHaveLength(2);
    const latest = all.find((o) => o.id !== earlier.id)!;
    expect(all.find((o) => o.id === earlier.id)!.extension).toEqual([
      { url: SUPERSEDED_BY, valueReference: { reference: `Observation/${latest.id}` } },
    ]);
    expect(latest.extension).toEqual([
      { url: REPLACES, valueReference: { reference: `Observation/${earlier.id}` } },
    ]);
  });

  it('gives up after the retry horizon with a dead letter, and a down EHR holds back no other', async () => {
    const [, tc] = await downEhr.seed([
      patient('wb-down', { gender: 'female', age: 55 }),
      lab('wb-down-tc', 'wb-down', '2093-3', 'Cholesterol', 213, 'mg/dL'),
      lab('wb-down-hdl', 'wb-down', '2085-9', 'HDL Cholesterol', 50, 'mg/dL'),
      bloodPressurePanel('wb-down-bp', 'wb-down', 120, 78),
      smokingStatus('wb-down-smk', 'wb-down', ...NEVER_SMOKER),
    ]);
    let refused = 0;
    downEhr.onRequest((req) => {
      if (!isWrite(req)) return;
      refused++;
      return {
        status: 503,
        body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'transient' }] },
      };
    });
    const healthy = await seedPatient('wb-healthy');
    const started = Date.now();
    const response = await fetch(`${aegle.url}/fhir/notify/down-ehr`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(tc),
    });
    expect(response.status).toBe(200);
    expect((await notify(healthy)).status).toBe(200);
    await aegle.waitForIdle();
    downEhr.onRequest(undefined);

    expect(await riskObservations('wb-healthy')).toHaveLength(1);
    const [letter] = await db.query(`SELECT * FROM dead_letter WHERE source_id = 'down-ehr'`);
    expect(letter).toMatchObject({ status: 'open', http_status: 503 });
    expect(letter.reason).toMatch(/^gave up after the retry horizon/);
    // It kept trying for most of the 1.5 s horizon before giving up.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(refused).toBeGreaterThanOrEqual(3);
    const metrics = await (await fetch(`${aegle.url}/metrics`)).text();
    expect(metrics).toMatch(/aegle_dead_letters_total\{source="down-ehr",reason="horizon"\} 1/);
  });

  it('writes one by one, still exactly once and superseding, to an EHR without transactions', async () => {
    const [, tc] = await plainEhr.seed([
      patient('wb-plain', { gender: 'female', age: 55 }),
      lab('wb-plain-tc', 'wb-plain', '2093-3', 'Cholesterol', 213, 'mg/dL'),
      lab('wb-plain-hdl', 'wb-plain', '2085-9', 'HDL Cholesterol', 50, 'mg/dL'),
      bloodPressurePanel('wb-plain-bp', 'wb-plain', 120, 78),
      smokingStatus('wb-plain-smk', 'wb-plain', ...NEVER_SMOKER),
    ]);
    const send = (body: unknown) =>
      fetch(`${aegle.url}/fhir/notify/plain-ehr`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(body),
      });
    const risks = async () =>
      json<fhir4.Bundle>(
        fetch(`${plainEhr.baseUrl}/Observation?subject=Patient/wb-plain&code=http://loinc.org|${PCE_CODE}`),
      ).then((b) => (b.entry ?? []).map((e) => e.resource as fhir4.Observation));
    expect((await send(tc)).status).toBe(200);
    await aegle.waitForIdle();
    const updated = await json<fhir4.Observation>(
      fetch(`${plainEhr.baseUrl}/Observation/wb-plain-tc`, {
        method: 'PUT',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ ...tc, effectiveDateTime: new Date().toISOString() }),
      }),
    );
    expect((await send(updated)).status).toBe(200);
    await aegle.waitForIdle();
    await queueAgain('wb-plain');

    const all = await risks();
    expect(all.map((o) => o.status).sort()).toEqual(['cancelled', 'preliminary']);
    for (const o of all) {
      const bundle = await json<fhir4.Bundle>(
        fetch(`${plainEhr.baseUrl}/Provenance?target=Observation/${o.id}`),
      );
      expect(bundle.entry).toHaveLength(1);
    }
    expect(plainEhr.requests.filter((r) => r.status === 405)).toHaveLength(0);
  });

  async function queueAgain(patientId: string): Promise<void> {
    const runs = await db.query(`SELECT id FROM plugin_run WHERE patient_ref = $1`, [`Patient/${patientId}`]);
    const queue = aegle.app.get<Queue>(getQueueToken(QUEUES.writeback));
    for (const run of runs) await queue.add('write', { runId: run.id }, { jobId: `${run.id}-again` });
    await aegle.waitForIdle();
  }
});
