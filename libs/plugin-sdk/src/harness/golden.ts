import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import {
  PNEUMONIAMNIST_MISSING,
  pneumoniaMnistAvailable,
  pneumoniaMnistImage,
  wrapAsDicom,
} from '@aegle/imaging';
import { readPluginFolder } from '../loader';
import { PluginRunResult, runPlugin } from './run-plugin';

const expectedObservation = z
  .object({
    /** `system|code` of the Observation. */
    code: z.string().regex(/^[^|\s]+\|[^|\s]+$/, 'must be system|code'),
    value: z.number(),
    /** Largest accepted difference from `value`; default half the last declared decimal. */
    tolerance: z.number().nonnegative().optional(),
    unit: z.string().optional(),
    /** The interpretation's text, exactly. */
    interpretation: z.string().optional(),
    /** `<` or `>` when the value must be reported as a bound; absent: it must have none. */
    comparator: z.enum(['<', '>']).optional(),
    /** Texts the Observation's notes must contain (e.g. the warning a clinician must read). */
    noteContains: z.array(z.string().min(1)).optional(),
    /** Texts its notes must not contain. */
    noteExcludes: z.array(z.string().min(1)).optional(),
  })
  .strict();

/**
 * A DICOM instance of the golden case's PACS: a PneumoniaMNIST image (by split and index), wrapped
 * as DICOM when the case runs, since no data-set image is ever committed.
 */
const goldenImage = z
  .object({
    pneumoniamnist: z.object({ split: z.enum(['train', 'val']), index: z.number().int().min(0) }).strict(),
    modality: z.enum(['CR', 'DX']).default('CR'),
    bodyPart: z.string().default('CHEST'),
    view: z.string().default('PA'),
  })
  .strict();

/** One golden case: an input Bundle and what the plugin must make of it. */
export const goldenCaseSchema = z
  .object({
    $schema: z.string().optional(),
    description: z.string().min(1),
    /**
     * Where this way of coding the data comes from (an implementation guide's example, a LOINC
     * table, a laboratory's practice), so a reader can check the case against the real world.
     */
    source: z.string().min(1).optional(),
    /** The time the run happens at, so ages and look-back windows never drift. */
    now: z.iso.datetime({ offset: true }),
    /** `Type/id` of the event's focus in the bundle; default the Patient. */
    focus: z.string().optional(),
    bundle: z.looseObject({ resourceType: z.literal('Bundle') }),
    /** The instances the bundle's ImagingStudy names, by SOP Instance UID. */
    images: z.record(z.string(), goldenImage).optional(),
    expect: z.union([
      z.object({ observations: z.array(expectedObservation) }).strict(),
      z.object({ skip: z.string().min(1).describe('text the skip reason must contain') }).strict(),
    ]),
  })
  .strict();

export type GoldenCase = z.output<typeof goldenCaseSchema>;

export interface GoldenResult {
  file: string;
  description?: string;
  passed: boolean;
  problems: string[];
  actual?: PluginRunResult;
  /** Why the case could not run here (its data set is absent): not a pass, not a failure. */
  skipped?: string;
}

/** Runs every `golden/*.json` case of a plugin folder; each passes or lists what differed. */
export async function runGoldenCases(dir: string): Promise<GoldenResult[]> {
  const goldenDir = join(dir, 'golden');
  const files = (await readdir(goldenDir).catch(() => [] as string[]))
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) return [];
  const folder = await readPluginFolder(dir);
  const results: GoldenResult[] = [];
  for (const file of files) {
    const path = join('golden', file);
    let golden: GoldenCase;
    try {
      const parsed = goldenCaseSchema.safeParse(JSON.parse(await readFile(join(dir, path), 'utf8')));
      if (!parsed.success) {
        results.push({
          file: path,
          passed: false,
          problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
        });
        continue;
      }
      golden = parsed.data;
    } catch (error) {
      results.push({ file: path, passed: false, problems: [`not valid JSON: ${(error as Error).message}`] });
      continue;
    }
    if (golden.images && !pneumoniaMnistAvailable()) {
      results.push({
        file: path,
        description: golden.description,
        passed: true,
        problems: [],
        skipped: PNEUMONIAMNIST_MISSING,
      });
      continue;
    }
    let actual: PluginRunResult;
    try {
      actual = await runPlugin(folder, golden.bundle as unknown as fhir4.Bundle, {
        now: golden.now,
        ...(golden.focus ? { focus: golden.focus } : {}),
        ...(golden.images ? { dicomInstances: goldenInstances(golden) } : {}),
      });
    } catch (error) {
      results.push({
        file: path,
        description: golden.description,
        passed: false,
        problems: [`the run failed: ${(error as Error).message}`],
      });
      continue;
    }
    const problems = compare(golden, actual, folder.manifest.outputs);
    results.push({
      file: path,
      description: golden.description,
      passed: problems.length === 0,
      problems,
      actual,
    });
  }
  return results;
}

/** The golden case's data-set images wrapped as the DICOM instances its ImagingStudy names. */
function goldenInstances(golden: GoldenCase): Map<string, Uint8Array> {
  const study = (golden.bundle as unknown as fhir4.Bundle).entry
    ?.map((e) => e.resource)
    .find((r): r is fhir4.ImagingStudy => r?.resourceType === 'ImagingStudy');
  const studyUid = study?.identifier
    ?.find((i) => i.system === 'urn:dicom:uid')
    ?.value?.replace(/^urn:oid:/, '');
  const instances = new Map<string, Uint8Array>();
  for (const [sopInstanceUid, image] of Object.entries(golden.images ?? {})) {
    const series = study?.series?.find((s) => s.instance?.some((i) => i.uid === sopInstanceUid));
    const { pixels, rows, columns } = pneumoniaMnistImage(
      image.pneumoniamnist.split,
      image.pneumoniamnist.index,
    );
    instances.set(
      sopInstanceUid,
      wrapAsDicom(
        pixels,
        { rows, columns },
        {
          studyInstanceUid: studyUid ?? '2.25.0',
          seriesInstanceUid: series?.uid ?? '2.25.0',
          sopInstanceUid,
          modality: image.modality,
          bodyPart: image.bodyPart,
          viewPosition: image.view,
          patientId: 'golden',
        },
      ),
    );
  }
  return instances;
}

function compare(
  golden: GoldenCase,
  actual: PluginRunResult,
  outputs: Array<{ code: { system: string; code: string }; decimals?: number }>,
): string[] {
  if ('skip' in golden.expect) {
    if (actual.status !== 'skipped')
      return [
        `expected a skip (${golden.expect.skip}) but the plugin produced ${actual.observations.length} Observation(s)`,
      ];
    return actual.reason.includes(golden.expect.skip)
      ? []
      : [`the skip reason "${actual.reason}" does not contain "${golden.expect.skip}"`];
  }
  if (actual.status === 'skipped') return [`expected Observations but the plugin skipped: ${actual.reason}`];
  const problems: string[] = [];
  const expected = golden.expect.observations;
  if (actual.observations.length !== expected.length) {
    problems.push(`expected ${expected.length} Observation(s), got ${actual.observations.length}`);
  }
  for (const want of expected) {
    const [system, code] = want.code.split('|');
    const got = actual.observations.find((o) =>
      o.code.coding?.some((c) => c.system === system && c.code === code),
    );
    if (!got) {
      problems.push(`no Observation with code ${want.code}`);
      continue;
    }
    const decimals = outputs.find((o) => o.code.system === system && o.code.code === code)?.decimals;
    const tolerance = want.tolerance ?? (decimals !== undefined ? 0.5 * 10 ** -decimals : 1e-9);
    const value = got.valueQuantity?.value;
    if (value === undefined || Math.abs(value - want.value) > tolerance) {
      problems.push(`${want.code}: value ${value} is not ${want.value} ± ${tolerance}`);
    }
    if (want.unit !== undefined && got.valueQuantity?.code !== want.unit) {
      problems.push(`${want.code}: unit ${got.valueQuantity?.code} is not ${want.unit}`);
    }
    if (got.valueQuantity?.comparator !== want.comparator) {
      problems.push(
        `${want.code}: comparator ${got.valueQuantity?.comparator ?? '(none)'} is not ${want.comparator ?? '(none)'}`,
      );
    }
    const notes = (got.note ?? []).map((n) => n.text).join('\n');
    for (const text of want.noteContains ?? [])
      if (!notes.includes(text)) problems.push(`${want.code}: the notes do not contain "${text}"`);
    for (const text of want.noteExcludes ?? [])
      if (notes.includes(text)) problems.push(`${want.code}: the notes contain "${text}"`);
    const text = got.interpretation?.[0]?.text;
    if (want.interpretation !== undefined && text !== want.interpretation) {
      problems.push(`${want.code}: interpretation "${text}" is not "${want.interpretation}"`);
    }
  }
  return problems;
}
