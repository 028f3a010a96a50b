import sharp from 'sharp';
import * as ort from 'onnxruntime-node';
import { getQueueToken } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { runQueueFor } from '@aegle/jobs';
import { join } from 'node:path';
import { pneumoniaMnistAvailable, pneumoniaMnistImage, PNEUMONIAMNIST_MISSING } from '@aegle/imaging';
import { RunningAegle, startAegle } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { validateR4 } from './support/fhir-validation';
import { launchChromium, screenshotDir } from './support/browser';
import { eventually, json } from './support/http';
import { failedTimes } from './support/job-barriers';
import { chestStudy } from './support/imaging-studies';
import { OrthancProcess, sharedOrthanc, startOrthancProcess } from './support/orthanc';

const RESULT = 'https://fhir.aegle.dev/CodeSystem/aegle-results|pneumonia-probability-cxr';
const MODEL = join(__dirname, '../plugins/diagnosis-pneumonia-cxr/model/pneumonia-cxr-cnn.onnx');
const TOKEN = 'imaging-inbound-token';
const ADMIN = 'imaging-console-admin-token';
/** The little of the DOM the page-side check uses (the tests compile without the DOM library). */
interface PageImage {
  naturalWidth: number;
  naturalHeight: number;
}
interface PageCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): {
    drawImage(image: PageImage, x: number, y: number): void;
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
  };
}
if (!pneumoniaMnistAvailable()) console.warn(PNEUMONIAMNIST_MISSING);
const withData = pneumoniaMnistAvailable() ? describe : describe.skip;

/**
 * Chest X-rays from a real PACS (Orthanc, DICOMweb) to a labelled result in a real FHIR server:
 * the EHR notifies an ImagingStudy, Aegle fetches the instance over WADO-RS, runs the CNN in
 * onnxruntime and writes the Observation, its Device and Provenance; refusals are skips with a reason.
 */
withData('chest X-ray pneumonia plugin end to end', () => {
  let ehr: TestFhirServer;
  let aegle: RunningAegle;
  let pacs: { dicomWebBase: string; client: { store(files: Uint8Array[]): Promise<void> } };
  let privatePacs: OrthancProcess;
  let session: ort.InferenceSession;

  beforeAll(async () => {
    pacs = await sharedOrthanc();
    privatePacs = await startOrthancProcess();
    ehr = await startFhirServer();
    aegle = await startAegle({
      adminToken: ADMIN,
      sources: [
        {
          id: 'imaging-ehr',
          fhirBaseUrl: ehr.baseUrl,
          bearerToken: TOKEN,
          imaging: {
            dicomWebBaseUrls: [pacs.dicomWebBase, privatePacs.dicomWebBase],
            requestTimeoutMs: 2_000,
          },
        },
      ],
    });
    session = await ort.InferenceSession.create(MODEL);
  });

  afterAll(async () => {
    await aegle?.close();
    await ehr?.close();
    await privatePacs?.close();
    await session?.release();
  });

  const notify = (resource: fhir4.Resource) =>
    fetch(`${aegle.url}/fhir/notify/imaging-ehr`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(resource),
    });
  const results = async (patientId: string) =>
    (
      await json<fhir4.Bundle>(
        fetch(`${ehr.baseUrl}/Observation?subject=Patient/${patientId}&code=${RESULT}`),
      )
    ).entry?.map((e) => e.resource as fhir4.Observation) ?? [];
  /** The plugin's runs on the events of one focus resource (the patient is known only once a run ends). */
  const runsOf = (focusId: string) =>
    aegle.db.query(
      `SELECT r.outcome, r.reason, r.inputs FROM plugin_run r JOIN event e ON e.id = r.event_id
        WHERE e.focus_id = $1 AND r.plugin_id = 'diagnosis-pneumonia-cxr'`,
      [focusId],
    );
  const probability = async (pixels: Uint8Array) => {
    const out = await session.run({
      image: new ort.Tensor('float32', Float32Array.from(pixels), [1, 1, 28, 28]),
    });
    return (out.probability.data as Float32Array)[0];
  };
  const patient = (id: string): fhir4.Patient => ({ resourceType: 'Patient', id, birthDate: '2022-04-02' });

  it('reads a study stored in Orthanc and writes one R4-valid, AI-labelled Observation with Device, Provenance and audit', async () => {
    const endpoint: fhir4.Endpoint = {
      resourceType: 'Endpoint',
      id: 'orthanc',
      status: 'active',
      connectionType: {
        system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type',
        code: 'dicom-wado-rs',
      },
      payloadType: [{ text: 'DICOM' }],
      address: pacs.dicomWebBase,
    };
    const { instance, study, pixels } = chestStudy({
      id: 'cxr-pneumonia',
      patientId: 'cxr-child',
      split: 'val',
      index: 0,
      endpointReference: 'Endpoint/orthanc',
    });
    await pacs.client.store([instance]);
    const [, , seeded] = await ehr.seed([patient('cxr-child'), endpoint, study] as fhir4.Resource[]);
    expect((await notify(seeded)).status).toBe(200);
    await aegle.waitForIdle();
    // The same notification again (an EHR's retry): still exactly one result.
    expect((await notify(seeded)).status).toBe(200);
    await aegle.waitForIdle();

    const [result, ...others] = await results('cxr-child');
    expect(others).toHaveLength(0);
    validateR4(result as never);
    const studyRef = `ImagingStudy/cxr-pneumonia/_history/${seeded.meta!.versionId}`;
    expect(result).toMatchObject({
      status: 'preliminary',
      subject: { reference: 'Patient/cxr-child' },
      focus: [{ reference: studyRef }],
      derivedFrom: [{ reference: studyRef }],
      category: [{ coding: [expect.objectContaining({ code: 'imaging' })] }],
      valueQuantity: { code: '%' },
      interpretation: [{ coding: [expect.objectContaining({ code: 'POS' })] }],
    });
    expect(result.valueQuantity!.value).toBeCloseTo(100 * (await probability(pixels)), 1);
    expect(result.meta?.security).toEqual([expect.objectContaining({ code: 'AIAST' })]);
    expect(result.note?.map((n) => n.text).join('\n')).toMatch(/AI decision support, research grade/);

    const device = await json<fhir4.Device>(fetch(`${ehr.baseUrl}/${result.device!.reference}`));
    validateR4(device as never);
    const provenances = await json<fhir4.Bundle>(
      fetch(`${ehr.baseUrl}/Provenance?target=Observation/${result.id}`),
    );
    expect(provenances.entry).toHaveLength(1);
    const provenance = provenances.entry![0].resource as fhir4.Provenance;
    validateR4(provenance as never);
    expect(provenance.entity?.map((e) => e.what.reference)).toEqual([studyRef]);

    // The audit keeps exactly the tensor the model was given: the data set's own grey levels.
    const [run, ...moreRuns] = await runsOf('cxr-pneumonia');
    expect(moreRuns).toHaveLength(0);
    expect(run.outcome).toBe('succeeded');
    expect(run.inputs.chestXray.values).toEqual(Array.from(pixels));
    expect(run.inputs.chestXray.display).toMatch(/series 1 instance 1 \(CR PA\), 28 × 28 → 28 × 28/);
    const writes = await aegle.db.query(
      `SELECT w.resource_type FROM write_back w JOIN plugin_run r ON r.id = w.run_id WHERE r.patient_ref = 'Patient/cxr-child'`,
    );
    expect(writes.map((w: { resource_type: string }) => w.resource_type)).toContain('Observation');
  });

  it("shows in the console, beside the result's story, the image the model read", async () => {
    const [result] = await results('cxr-child');
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
      await page.goto(`${aegle.url}/console`);
      await page.getByLabel('Admin token').fill(ADMIN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Timeline' }).waitFor();
      await page.goto(`${aegle.url}/console#/results/Observation/${result.id}`);
      const image = page.getByTestId('model-image').locator('img');
      await image.waitFor();
      // The picture is the audited tensor itself: its pixels are the data set's grey levels.
      const drawn = await image.evaluate((element) => {
        const img = element as unknown as PageImage;
        const { document } = globalThis as unknown as {
          document: { createElement(tag: 'canvas'): PageCanvas };
        };
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        const context = canvas.getContext('2d');
        context.drawImage(img, 0, 0);
        const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
        return { width: img.naturalWidth, grey: Array.from(data.filter((_, i) => i % 4 === 0)) };
      });
      expect(drawn.width).toBe(28);
      expect(drawn.grey).toEqual(Array.from(pneumoniaMnistImage('val', 0).pixels));
      await page.screenshot({
        path: join(await screenshotDir('imaging'), 'run-story-with-image.png'),
        fullPage: true,
      });
    } finally {
      await browser.close();
    }
  });

  it('reads a PNG attached to a DocumentReference by a Binary URL, for an EHR without a PACS', async () => {
    const { pixels, rows, columns } = pneumoniaMnistImage('val', 3);
    const png = await sharp(Buffer.from(pixels), { raw: { width: columns, height: rows, channels: 1 } })
      .png()
      .toBuffer();
    const [, binary] = await ehr.seed([
      patient('cxr-png'),
      { resourceType: 'Binary', id: 'cxr-png-image', contentType: 'image/png', data: png.toString('base64') },
    ] as fhir4.Resource[]);
    const [document] = await ehr.seed([
      {
        resourceType: 'DocumentReference',
        id: 'cxr-png-doc',
        status: 'current',
        type: { text: 'Chest X-ray' },
        subject: { reference: 'Patient/cxr-png' },
        date: new Date().toISOString(),
        content: [{ attachment: { contentType: 'image/png', url: `Binary/${binary.id}` } }],
      } as fhir4.DocumentReference,
    ]);
    expect((await notify(document)).status).toBe(200);
    await aegle.waitForIdle();
    expect(await runsOf('cxr-png-doc')).toEqual([expect.objectContaining({ outcome: 'succeeded' })]);
    const [result] = await results('cxr-png');
    validateR4(result as never);
    expect(result.interpretation?.[0].coding?.[0].code).toBe('NEG');
    expect(result.valueQuantity!.value).toBeCloseTo(100 * (await probability(pixels)), 1);
    const [run] = await runsOf('cxr-png-doc');
    expect(run.inputs.chestXray.values).toEqual(Array.from(pixels));
  });

  it('asks the PACS for the instances (QIDO-RS) of a study notified without its series', async () => {
    const { instance, study, pixels } = chestStudy({
      id: 'cxr-no-series',
      patientId: 'cxr-no-series',
      split: 'val',
      index: 2,
      dicomWebBase: pacs.dicomWebBase,
      seriesModality: 'DX',
    });
    await pacs.client.store([instance]);
    const { series: _series, numberOfSeries: _n, numberOfInstances: _i, ...withoutSeries } = study;
    const [, seeded] = await ehr.seed([patient('cxr-no-series'), withoutSeries] as fhir4.Resource[]);
    expect((await notify(seeded)).status).toBe(200);
    await aegle.waitForIdle();
    const [result] = await results('cxr-no-series');
    validateR4(result as never);
    expect(result.valueQuantity!.value).toBeCloseTo(100 * (await probability(pixels)), 1);
    const [run] = await runsOf('cxr-no-series');
    expect(run.inputs.chestXray.display).toMatch(/^series 1 instance 1 \(DX PA\)/);
  });

  it.each([
    ['an MR study', { seriesModality: 'MR' }, /image refused: no CR or DX series/],
    [
      'a CR study whose file says CT',
      { fileModality: 'CT' },
      /image refused: series 1 instance 1 is CT, not CR or DX/,
    ],
    [
      'a radiograph of the hand',
      { bodyPart: 'HAND' },
      /image refused: series 1 instance 1 shows HAND, not CHEST/,
    ],
    [
      'a lateral view only',
      { view: 'LL' },
      /image refused: no PA or AP view: series 1 instance 1 is a LL view/,
    ],
    [
      'a PACS the source does not list',
      { dicomWebBase: 'https://pacs.elsewhere.example/dicom-web' },
      /is not one configured for this source/,
    ],
    [
      'an instance the PACS does not have',
      { notStored: true },
      /image refused: the PACS answered 404 for instance/,
    ],
  ])('skips %s with the reason, writing nothing', async (label, options, reason) => {
    const patientId = `cxr-bad-${label.replace(/\W+/g, '-')}`;
    const { instance, study } = chestStudy({
      id: patientId,
      patientId,
      split: 'val',
      index: 1,
      dicomWebBase: pacs.dicomWebBase,
      ...options,
    });
    if (!('notStored' in options)) await pacs.client.store([instance]);
    const [, seeded] = await ehr.seed([patient(patientId), study] as fhir4.Resource[]);
    expect((await notify(seeded)).status).toBe(200);
    await aegle.waitForIdle();
    expect(await results(patientId)).toHaveLength(0);
    expect(await runsOf(patientId)).toEqual([
      expect.objectContaining({ outcome: 'skipped', reason: expect.stringMatching(reason) }),
    ]);
  });

  it('skips a DocumentReference whose DICOM attachment is corrupt', async () => {
    const [, document] = await ehr.seed([
      patient('cxr-corrupt'),
      {
        resourceType: 'DocumentReference',
        id: 'cxr-corrupt-doc',
        status: 'current',
        subject: { reference: 'Patient/cxr-corrupt' },
        content: [
          {
            attachment: {
              contentType: 'application/dicom',
              data: Buffer.from('DICM? no: a truncated transfer').toString('base64'),
            },
          },
        ],
      },
    ] as fhir4.Resource[]);
    expect((await notify(document)).status).toBe(200);
    await aegle.waitForIdle();
    expect(await results('cxr-corrupt')).toHaveLength(0);
    expect(await runsOf('cxr-corrupt-doc')).toEqual([
      expect.objectContaining({
        outcome: 'skipped',
        reason: expect.stringMatching(/not a readable DICOM file/),
      }),
    ]);
  });

  it('retries while the PACS is down, and writes the result once it is back', async () => {
    const { instance, study, pixels } = chestStudy({
      id: 'cxr-outage',
      patientId: 'cxr-outage',
      split: 'val',
      index: 7,
      dicomWebBase: privatePacs.dicomWebBase,
    });
    await privatePacs.client.store([instance]);
    await privatePacs.stop();
    const [, seeded] = await ehr.seed([patient('cxr-outage'), study] as fhir4.Resource[]);
    expect((await notify(seeded)).status).toBe(200);
    // A few tries fail while it is down: nothing is written, nothing is given up.
    const [{ id: runId }] = await eventually(async () => {
      const opened = await aegle.db.query<Array<{ id: string }>>(
        `SELECT r.id::text FROM plugin_run r JOIN event e ON e.id = r.event_id WHERE e.focus_id = 'cxr-outage'`,
      );
      return opened.length > 0 ? opened : undefined;
    }, 'the run to open');
    const runs = aegle.app.get<Queue>(getQueueToken(runQueueFor('prefer-gpu')), { strict: false });
    await failedTimes(runs, runId, 2, 'two tries to fail while the PACS is down');
    expect(await runs.getJobState(runId)).not.toBe('failed');
    expect(await results('cxr-outage')).toHaveLength(0);
    expect(await runsOf('cxr-outage')).toEqual([expect.objectContaining({ outcome: 'pending' })]);

    await privatePacs.start();
    await aegle.waitForIdle(60_000);
    const [result, ...others] = await results('cxr-outage');
    expect(others).toHaveLength(0);
    validateR4(result as never);
    expect(result.valueQuantity!.value).toBeCloseTo(100 * (await probability(pixels)), 1);
    expect(await runsOf('cxr-outage')).toEqual([expect.objectContaining({ outcome: 'succeeded' })]);
  }, 90_000);
});
