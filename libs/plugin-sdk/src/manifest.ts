import { valid as validSemver, validRange } from 'semver';
import { z } from 'zod';

/** Version of the plugin contract this SDK implements; plugins declare a semver range of it. */
export const SDK_VERSION = '0.1.0';

const semver = z.string().refine((v) => validSemver(v) !== null, 'must be a semantic version such as 1.2.0');
const semverRange = z.string().refine((v) => validRange(v) !== null, 'must be a semver range such as ^0.1.0');
const fhirPath = z.string().min(1);
/** `system|code`; a trailing `*` matches every code with that prefix (for hierarchies such as ATC or ICD-10). */
const systemCode = z
  .string()
  .regex(/^[^|\s]+\|[^|\s]+$/, 'must be system|code, e.g. http://loinc.org|2093-3');
/** ISO-8601 duration in days, months or years, e.g. `P2Y`, `P6M`, `P30D`. */
const lookback = z.string().regex(/^P(\d+Y)?(\d+M)?(\d+D)?$/, 'must be an ISO-8601 duration such as P2Y');

/** Lower-case words matched against a concept's text and displays (e.g. ingredient names). */
const names = z.array(z.string().regex(/^[a-z][a-z0-9 -]*$/, 'must be lower-case words')).min(1);

const coding = z
  .object({ system: z.string().min(1), code: z.string().min(1), display: z.string().optional() })
  .strict();

const trigger = z
  .object({
    /** FHIR resource type of the notification's focus that starts this plugin. */
    resourceType: z.string().regex(/^[A-Z][A-Za-z]+$/),
    /** FHIRPath evaluated on the focus resource; the plugin runs when it is true. */
    criteria: fhirPath.optional(),
  })
  .strict();

const inputSource = z.discriminatedUnion('from', [
  /** A value of the Patient resource (FHIRPath on Patient). */
  z.object({ from: z.literal('patient'), path: fhirPath }).strict(),
  /** The patient's age in whole years at the time of the run. */
  z.object({ from: z.literal('age') }).strict(),
  /** The patient's latest Observation with one of these codes, within the look-back window. */
  z
    .object({
      from: z.literal('observation'),
      codes: z.array(systemCode).min(1),
      lookback: lookback.optional(),
      /** FHIRPath on the Observation to the value; default `value`. */
      path: fhirPath.optional(),
    })
    .strict(),
  /**
   * An Observation the focus resource groups (DiagnosticReport.result or Observation.hasMember)
   * with one of these codes: the members of the very report that triggered the run.
   */
  z
    .object({
      from: z.literal('member'),
      codes: z.array(systemCode).min(1),
      /** FHIRPath on the member Observation to the value; default `value`. */
      path: fhirPath.optional(),
    })
    .strict(),
  /** 1 when the patient has an active Condition with one of these codes (or names), else 0. */
  z
    .object({ from: z.literal('condition'), codes: z.array(systemCode).min(1), names: names.optional() })
    .strict(),
  /**
   * 1 when the patient has an active MedicationStatement or MedicationRequest with one of these
   * codes, else 0. `names` also match words of the medication's text, since EHRs often code
   * products (RxNorm SCD) rather than ingredients.
   */
  z
    .object({ from: z.literal('medication'), codes: z.array(systemCode).min(1), names: names.optional() })
    .strict(),
]);

const feature = z
  .object({
    name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/, 'must be a camelCase identifier'),
    description: z.string().optional(),
    source: inputSource,
    /** UCUM unit the model expects; quantities in other units are converted. */
    unit: z.string().optional(),
    /** g/mol, to convert between molar and mass concentrations (e.g. 386.65 for cholesterol). */
    molarMass: z.number().positive().optional(),
    /** Coded or string values to numbers; keys are `system|code`, a code or a string. */
    map: z.record(z.string(), z.number()).optional(),
    /** Number used when a value exists but matches no key of `map`. */
    otherwise: z.number().optional(),
    required: z.boolean().default(true),
    /** The reason recorded when a required value is missing, in the clinician's terms. */
    whenMissing: z.string().min(1).optional(),
    /** Used when the value is missing and the feature is not required. */
    default: z.number().optional(),
    /** The range the model was validated in; outside it the plugin does not run. */
    valid: z.object({ min: z.number().optional(), max: z.number().optional() }).strict().optional(),
  })
  .strict();

const elementType = z.enum(['float32', 'float64', 'int64']);
const dim = z.union([z.number().int().positive(), z.string().min(1)]);

const tensor = z
  .object({
    name: z.string().min(1),
    type: elementType,
    shape: z.array(dim).min(1),
  })
  .strict();

const model = z
  .object({
    file: z.string().min(1),
    sha256: z.string().regex(/^[a-f0-9]{64}$/, 'must be the lower-case hex sha256 of the model file'),
    /** Where the model may run: `prefer-gpu` falls back to CPU with a warning, `require-gpu` refuses to. */
    execution: z.enum(['cpu', 'prefer-gpu', 'require-gpu']).default('cpu'),
    inputs: z.array(tensor.extend({ features: z.array(z.string()).min(1) }).strict()).min(1),
    outputs: z.array(tensor).min(1),
    /**
     * Dynamic batching, as Triton's `max_batch_size` and `max_queue_delay_microseconds`; unset
     * values take Aegle's defaults (`inference.batching`). A model without a dynamic first
     * dimension always runs one request at a time.
     */
    batching: z
      .object({
        maxBatchSize: z.number().int().min(1).max(4096).optional(),
        maxQueueDelayMicroseconds: z.number().int().min(0).max(1_000_000).optional(),
      })
      .strict()
      .optional(),
    /** Most `session.run` calls of this model in flight at once; unset: `inference.concurrency`. */
    concurrency: z.number().int().min(1).max(64).optional(),
  })
  .strict();

const band = z
  .object({
    /** Inclusive lower bound of the band, in the output's unit. */
    min: z.number().optional(),
    /** Exclusive upper bound. */
    max: z.number().optional(),
    text: z.string().min(1),
    interpretation: coding.optional(),
  })
  .strict();

const output = z
  .object({
    tensor: z.string().min(1),
    code: coding,
    /**
     * Set when several outputs share one `code`: each becomes a component (coded so) of a single
     * Observation instead of an Observation of its own.
     */
    component: coding.optional(),
    category: coding.optional(),
    /** UCUM unit of the Observation value. */
    unit: z.string().min(1),
    /** Human-readable unit; defaults to `unit`. */
    unitDisplay: z.string().optional(),
    /** Multiplier from the tensor's value to the Observation's (e.g. 100 for a fraction → %). */
    scale: z.number().default(1),
    decimals: z.number().int().min(0).max(10).optional(),
    bands: z.array(band).optional(),
    referenceRange: z
      .object({ low: z.number().optional(), high: z.number().optional(), text: z.string().optional() })
      .strict()
      .optional(),
    /**
     * Text added to the result's notes; `{feature}` placeholders are replaced by what the model
     * was given (a coded value's display, a number, yes/no), e.g. the genotypes that drove a dose.
     */
    note: z.string().min(1).optional(),
    /** Method text shown with the result, e.g. the equation's name. */
    method: z.string().optional(),
  })
  .strict();

export const manifestSchema = z
  .object({
    $schema: z.string().optional(),
    id: z
      .string()
      .regex(
        /^(diagnosis|treatment|prognosis)-[a-z0-9]+(-[a-z0-9]+)*$/,
        'must be <kind>-<name> in kebab-case',
      ),
    version: semver,
    kind: z.enum(['diagnosis', 'treatment', 'prognosis']),
    title: z.string().min(1),
    description: z.string().optional(),
    publisher: z.string().min(1),
    modelCard: z.string().min(1),
    sdk: semverRange,
    triggers: z.array(trigger).min(1),
    inputs: z.array(feature).min(1),
    model,
    outputs: z.array(output).min(1),
    policy: z
      .object({
        observationStatus: z.enum(['preliminary', 'final', 'registered']).default('preliminary'),
        timeoutMs: z.number().int().positive().default(10_000),
      })
      .strict()
      .default({ observationStatus: 'preliminary', timeoutMs: 10_000 }),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (!m.id.startsWith(`${m.kind}-`)) {
      ctx.addIssue({ code: 'custom', path: ['id'], message: `must start with its kind, "${m.kind}-"` });
    }
    const names = new Set(m.inputs.map((f) => f.name));
    m.model.inputs.forEach((t, i) =>
      t.features.forEach((f, j) => {
        if (!names.has(f)) {
          ctx.addIssue({
            code: 'custom',
            path: ['model', 'inputs', i, 'features', j],
            message: `no input named "${f}"`,
          });
        }
      }),
    );
    const tensors = new Set(m.model.outputs.map((t) => t.name));
    m.outputs.forEach((o, i) => {
      if (!tensors.has(o.tensor)) {
        ctx.addIssue({
          code: 'custom',
          path: ['outputs', i, 'tensor'],
          message: `no model output named "${o.tensor}"`,
        });
      }
    });
  });

export type PluginManifest = z.output<typeof manifestSchema>;
export type FeatureSpec = PluginManifest['inputs'][number];
export type InputSource = FeatureSpec['source'];
export type OutputSpec = PluginManifest['outputs'][number];
export type TensorSpec = PluginManifest['model']['outputs'][number];
export type Coding = z.output<typeof coding>;
export type ExecutionNeed = PluginManifest['model']['execution'];
