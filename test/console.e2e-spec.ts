import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { AuditChain } from '@aegle/store';
import { startAegle, RunningAegle } from './support/aegle-app';
import { launchChromium, screenshotDir } from './support/browser';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { json } from './support/http';
import { bloodPressurePanel, lab, NEVER_SMOKER, patient, smokingStatus } from './fixtures/patients';

const TOKEN = 'e2e-inbound-token';
const ADMIN = 'e2e-console-admin-token';
const PCE_CODE = '79423-0';

/** The bit of the DOM's canvas the chart check reads (the tests compile without the DOM types). */
interface Canvas2d {
  width: number;
  height: number;
  getContext(
    kind: '2d',
  ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}

/**
 * The admin console in a real browser against the real stack: notifications flow through Aegle to a
 * FHIR server, and a person signs in, watches the timeline, reads a run's story, the plugins, a dead
 * letter (replayed) and the subscriptions, and looks at the charts. Screenshots: test-output/console.
 */
describe('the admin console in Chromium', () => {
  let ehr: TestFhirServer;
  let aegle: RunningAegle;
  let browser: Browser;
  let page: Page;
  let shots: string;
  const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    shots = await screenshotDir('console');
    ehr = await startFhirServer();
    aegle = await startAegle({
      sources: [{ id: 'test-ehr', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
      adminToken: ADMIN,
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await aegle?.close();
    await ehr?.close();
  });

  /** Seeds a complete PCE patient and notifies Aegle of the cholesterol result. */
  async function notifyPatient(id: string, cholesterol: number) {
    const seeded = await ehr.seed([
      patient(id, { gender: 'female', age: 58 }),
      lab(`tc-${id}`, id, '2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', cholesterol, 'mg/dL'),
      lab(`hdl-${id}`, id, '2085-9', 'HDL Cholesterol', 46, 'mg/dL'),
      bloodPressurePanel(`bp-${id}`, id, 134, 82),
      smokingStatus(`smk-${id}`, id, ...NEVER_SMOKER),
    ]);
    const response = await fetch(`${aegle.url}/fhir/notify/test-ehr`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(seeded[1]),
    });
    expect(response.status).toBe(200);
  }

  async function settle() {
    await aegle.waitForIdle();
    await aegle.app.get(AuditChain).idle();
  }

  async function riskOf(patientId: string): Promise<fhir4.Observation> {
    const bundle = await json<fhir4.Bundle>(
      fetch(`${ehr.baseUrl}/Observation?subject=Patient/${patientId}&code=http://loinc.org|${PCE_CODE}`),
    );
    expect(bundle.entry).toHaveLength(1);
    return bundle.entry![0].resource as fhir4.Observation;
  }

  it('results flow: one written, one refused by the EHR (a dead letter)', async () => {
    await notifyPatient('console-1', 226);
    await settle();
    // The EHR refuses writes (transaction POSTs; a batch of searches is a read) with 422: not
    // retryable, so a dead letter.
    ehr.onRequest((req) =>
      req.method === 'POST' && (req.body as { type?: string } | undefined)?.type !== 'batch'
        ? {
            status: 422,
            body: {
              resourceType: 'OperationOutcome',
              issue: [{ severity: 'error', code: 'invalid', diagnostics: 'refused by the EHR for the test' }],
            },
          }
        : undefined,
    );
    try {
      await notifyPatient('console-2', 241);
      await settle();
    } finally {
      ehr.onRequest(undefined);
    }
    const [letter] = await aegle.db.query(`SELECT status FROM dead_letter`);
    expect(letter).toEqual({ status: 'open' });
  });

  it('asks for the admin token, refuses a wrong one and lets the right one in', async () => {
    await page.goto(`${aegle.url}/console`);
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('Aegle refused this token').waitFor();
    expect(await page.getByText('no longer accepts').count()).toBe(0);
    await shot('01-login-refused');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);

    await page.getByLabel('Admin token').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Timeline' }).waitFor();
    await page.getByTestId('timeline').waitFor();
  });

  it('updates the timeline live when a new result comes in', async () => {
    const rows = page.getByTestId('timeline').locator('tbody tr');
    await rows.filter({ hasText: 'Observation/tc-console-2' }).first().waitFor();
    expect(await rows.filter({ hasText: 'Observation/tc-console-3' }).count()).toBe(0);
    await notifyPatient('console-3', 198);
    // No reload: the page polls with its cursor and the new event appears.
    await rows
      .filter({ hasText: 'Event stored: Observation/tc-console-3' })
      .first()
      .waitFor({ timeout: 20_000 });
    await settle();
    await rows.filter({ hasText: 'Run succeeded' }).nth(2).waitFor({ timeout: 20_000 });
    await page.getByTestId('live-state').getByText('Live').waitFor();
    await shot('02-timeline');
  });

  it("opens a run's story from a result link: inputs, output value and the Observation", async () => {
    const observation = await riskOf('console-1');
    // The demo prints this link for each result.
    await page.goto(`${aegle.url}/console#/results/Observation/${observation.id}`);
    await page.getByTestId('observation-ref').waitFor();
    expect(await page.getByTestId('observation-ref').textContent()).toBe(`Observation/${observation.id}`);
    expect(await page.getByTestId('output-value').first().textContent()).toContain(
      `${observation.valueQuantity!.value} %`,
    );
    const inputs = page.getByTestId('inputs');
    await inputs
      .getByRole('row', { name: /totalCholesterol/ })
      .getByText('226 mg/dL')
      .waitFor();
    await inputs.getByText('Observation/tc-console-1/_history/', { exact: false }).waitFor();
    // Inputs in clinical words, and nothing on file shown apart from a value recorded as "no".
    await inputs
      .getByRole('row', { name: /^sex/ })
      .getByRole('cell', { name: 'female', exact: true })
      .waitFor();
    await inputs
      .getByRole('row', { name: /^diabetes/ })
      .getByTestId('not-recorded')
      .waitFor();
    await inputs.getByRole('row', { name: /^race/ }).getByTestId('not-recorded').waitFor();
    await inputs.getByText('Race not recorded: the white equations were used.').waitFor();
    expect(
      await inputs
        .getByRole('row', { name: /^current smoker/ })
        .getByTestId('not-recorded')
        .count(),
    ).toBe(0);
    await page.getByText('Notification → result').waitFor();
    await page.getByText('audit intact').waitFor();
    await shot('03-run-story');
  });

  it('shows plugins with their rollout state, provider and model card', async () => {
    await page.getByRole('link', { name: 'Plugins', exact: true }).click();
    const pce = page.getByTestId('plugin').filter({ hasText: 'prognosis-ascvd-pce@1.0.0' });
    await pce.waitFor();
    await pce.getByText('live', { exact: true }).waitFor();
    await pce.getByText('cpu', { exact: true }).first().waitFor();
    const card = await readFile(join(__dirname, '..', 'plugins/prognosis-ascvd-pce/README.md'), 'utf8');
    const heading = /^## (.+)$/m.exec(card)![1];
    await pce.locator('summary', { hasText: 'Model card' }).click();
    await pce.getByTestId('model-card').getByRole('heading', { name: heading }).waitFor();
    expect(await pce.getByTestId('model-card').locator('script').count()).toBe(0);
    await pce.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: join(shots, '04-plugins.png') }); // the card is long: the first screen
  });

  it('lists the dead letter and replays it until it leaves the open list', async () => {
    await page.getByRole('link', { name: 'Dead letters' }).click();
    const table = page.getByTestId('dead-letters');
    const row = table.locator('tbody tr').filter({ hasText: 'prognosis-ascvd-pce' });
    await row.getByText('refused by the EHR for the test').waitFor();
    await row.getByText('422', { exact: true }).waitFor();
    await shot('05-dead-letters');
    await row.getByRole('button', { name: /Replay/ }).click();
    await page
      .getByRole('status')
      .getByText(/Replay of run .* queued|already in the EHR/)
      .waitFor();
    await page.getByText('No open dead letters.').waitFor({ timeout: 30_000 });
    await settle();
    await riskOf('console-2');
    const [letter] = await aegle.db.query(`SELECT status, replay_count FROM dead_letter`);
    expect(letter).toEqual({ status: 'resolved', replay_count: 1 });
    const [action] = await aegle.db.query(
      `SELECT actor FROM admin_action WHERE action = 'POST /api/dead-letters/:id/replay'`,
    );
    expect(action).toEqual({ actor: 'console' });
    await shot('06-dead-letters-replayed');
  });

  it('shows subscription health', async () => {
    await page.getByRole('link', { name: 'Subscriptions' }).click();
    const row = page.getByTestId('subscriptions').locator('tbody tr').filter({ hasText: 'test-ehr' });
    await row.getByText('healthy').waitFor();
    await row.getByText('s ago', { exact: false }).first().waitFor();
    await shot('07-subscriptions');
  });

  it('draws the charts from the recorded runs', async () => {
    await page.getByRole('link', { name: 'Charts' }).click();
    await page.getByTestId('chart-throughput').locator('canvas').waitFor();
    await page.getByTestId('chart-latency').locator('canvas').waitFor();
    const bars = page.getByTestId('chart-outcomes').locator('rect');
    await bars.first().waitFor();
    expect(await bars.count()).toBeGreaterThanOrEqual(1);
    const [counts] = await aegle.db.query(`SELECT count(*)::int AS n FROM event`);
    expect(Number(await page.getByTestId('total-events').textContent())).toBe(counts.n);
    // The canvas holds drawn pixels, not a blank surface.
    const inked = await page
      .getByTestId('chart-throughput')
      .locator('canvas')
      .evaluate((element) => {
        const canvas = element as unknown as Canvas2d;
        const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        let n = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
        return n;
      });
    expect(inked).toBeGreaterThan(500);
    await shot('08-charts');
  });

  it('keeps the session on reload, and signs out', async () => {
    await page.reload();
    await page.getByRole('heading', { name: 'Charts' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin token').waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });

  it('shows keyed hashes, not values, when the audit trail stores inputs as hashes', async () => {
    const hashed = await startAegle({
      sources: [{ id: 'test-ehr', fhirBaseUrl: ehr.baseUrl, bearerToken: TOKEN }],
      adminToken: ADMIN,
      audit: { storeInputs: 'hash', inputHashKey: 'console-test-hash-key' },
    });
    try {
      await ehr.seed([
        patient('console-h', { gender: 'female', age: 61 }),
        lab('tc-console-h', 'console-h', '2093-3', 'Cholesterol', 237, 'mg/dL'),
        lab('hdl-console-h', 'console-h', '2085-9', 'HDL Cholesterol', 52, 'mg/dL'),
        bloodPressurePanel('bp-console-h', 'console-h', 128, 80),
        smokingStatus('smk-console-h', 'console-h', ...NEVER_SMOKER),
      ]);
      const cholesterol = (await json<fhir4.Observation>(fetch(`${ehr.baseUrl}/Observation/tc-console-h`)))!;
      const sent = await fetch(`${hashed.url}/fhir/notify/test-ehr`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(cholesterol),
      });
      expect(sent.status).toBe(200);
      await hashed.waitForIdle();
      await hashed.app.get(AuditChain).idle();
      const [run] = await hashed.db.query(
        `SELECT id FROM plugin_run WHERE patient_ref = 'Patient/console-h'`,
      );

      await page.goto(`${hashed.url}/console#/runs/${run.id}`);
      await page.getByLabel('Admin token').fill(ADMIN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText('Inputs are stored as keyed hashes').waitFor();
      const row = page.getByTestId('inputs').getByRole('row', { name: /totalCholesterol/ });
      await row.getByText(/^hmac [0-9a-f]{10}…$/).waitFor();
      expect(await page.getByTestId('inputs').textContent()).not.toContain('mg/dL');
      // Nor does the API behind it spell the value out.
      const story = await fetch(`${hashed.url}/api/console/runs/${run.id}`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      const { run: stored } = await json<{ run: { inputs: object } }>(story);
      expect(JSON.stringify(stored.inputs)).not.toMatch(/"display"|"value"/);
      await shot('09-run-story-hashed-inputs');
    } finally {
      await hashed.close();
    }
  });
});
