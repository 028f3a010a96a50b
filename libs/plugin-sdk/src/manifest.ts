import { valid as validSemver, validRange } from 'semver';
import { z } from 'zod';

/** Version of the plugin contract this SDK implements; plugins declare a semver range of it. */
export const SDK_VERSION = '0.1.0';

const semver = z
  .string()
  .refine((v) => validSemver(v) !== null, 'must be a semantic version such as 1.2.0')
  .meta({ pattern: '^\\d+\\.\\d+\\.\\d+(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$' });
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

/** The kinds of plugin. */
export const PLUGIN_KINDS = ['diagnosis', 'treatment', 'prognosis'] as const;
/** The one rule for a plugin id: `<kind>-<name>` in kebab-case, e.g. prognosis-ascvd-pce. */
export const PLUGIN_ID = new RegExp(`^(${PLUGIN_KINDS.join('|')})-[a-z0-9]+(-[a-z0-9]+)*$`);

const pluginId = z.string().regex(PLUGIN_ID, 'must be <kind>-<name> in kebab-case');
const resourceType = z.string().regex(/^[A-Z][A-Za-z]+$/, 'must be a FHIR resource type such as Observation');

/**
 * What starts a run: a notification whose focus has this resource type (and, when given, makes the
 * FHIRPath `criteria` true), or a successful run of another plugin on the same event (`after`).
 */
const trigger = z
  .object({
    resourceType: resourceType
      .optional()
      .describe("FHIR resource type of the notification's focus that starts this plugin."),
    criteria: fhirPath
      .optional()
      .describe('FHIRPath evaluated on the focus resource; the plugin runs when it is true.'),
    after: pluginId
      .optional()
      .describe('Id of a plugin whose successful (live) result on the same event starts this one.'),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (!t.resourceType === !t.after) {
      ctx.addIssue({ code: 'custom', message: 'needs exactly one of resourceType or after' });
    }
    if (t.after && t.criteria) {
      ctx.addIssue({
        code: 'custom',
        path: ['criteria'],
        message: 'applies to a resourceType trigger only, not to after',
      });
    }
  });

/** The data a plugin may read: anything else never reaches it. */
const dataScope = z
  .object({
    resourceTypes: z
      .array(resourceType)
      .min(1)
      .describe("FHIR resource types the plugin reads (its triggers' and inputs' types must be among them)."),
    /**
     * Restricted security labels (`system|code`) the plugin may see, e.g.
     * `http://terminology.hl7.org/CodeSystem/v3-ActCode|42CFRPart2`. Data carrying a restricted
     * label not listed here is never given to the plugin: the run is skipped with the reason.
     */
    securityLabels: z.array(systemCode).default([]),
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
      path: fhirPath.optional().describe('FHIRPath on the Observation to the value; default "value".'),
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
  /** Computed by the plugin's own `extract()` (index.ts), for what the manifest cannot say. */
  z.object({ from: z.literal('plugin') }).strict(),
]);

const feature = z
  .object({
    name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/, 'must be a camelCase identifier'),
    description: z.string().optional(),
    source: inputSource,
    unit: z
      .string()
      .optional()
      .describe('UCUM unit the model expects; quantities in other units are converted.'),
    molarMass: z
      .number()
      .positive()
      .optional()
      .describe('g/mol, to convert between molar and mass concentrations (e.g. 386.65 for cholesterol).'),
    map: z
      .record(z.string(), z.number())
      .optional()
      .describe('Coded or string values to numbers; keys are "system|code", a code or a string.'),
    otherwise: z.number().optional().describe('Number used when a value exists but matches no key of "map".'),
    required: z.boolean().default(true),
    default: z
      .number()
      .optional()
      .describe('Used when the value is missing and the feature is not required.'),
    /**
     * What the skip reason says when this required input is missing, e.g. "the pharmacogenetic
     * algorithm cannot run without a CYP2C9 genotype"; the default names the search that found nothing.
     */
    ifMissing: z.string().min(1).optional(),
    valid: z
      .object({ min: z.number().optional(), max: z.number().optional() })
      .strict()
      .optional()
      .describe('The range the model was validated in; outside it the plugin does not run.'),
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
    execution: z
      .enum(['cpu', 'prefer-gpu', 'require-gpu'])
      .default('cpu')
      .describe(
        'Where the model may run: "prefer-gpu" falls back to CPU with a warning, "require-gpu" refuses to.',
      ),
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
    min: z.number().optional().describe("Inclusive lower bound of the band, in the output's unit."),
    max: z.number().optional().describe('Exclusive upper bound.'),
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
    unit: z.string().min(1).describe('UCUM unit of the Observation value.'),
    unitDisplay: z.string().optional().describe('Human-readable unit; defaults to "unit".'),
    scale: z
      .number()
      .default(1)
      .describe("Multiplier from the tensor's value to the Observation's (e.g. 100 for a fraction → %)."),
    decimals: z.number().int().min(0).max(10).optional(),
    bands: z.array(band).optional(),
    referenceRange: z
      .object({ low: z.number().optional(), high: z.number().optional(), text: z.string().optional() })
      .strict()
      .optional(),
    note: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Text added to the result's notes; {feature} placeholders are replaced by what the model was given (a coded value's display, a number, yes/no), e.g. the genotypes that drove a dose.",
      ),
    method: z.string().optional().describe("Method text shown with the result, e.g. the equation's name."),
  })
  .strict();

export const manifestSchema = z
  .object({
    $schema: z.string().optional(),
    id: pluginId.describe('<kind>-<name> in kebab-case; stable across versions.'),
    version: semver.describe(
      'Semantic version of this plugin (model and manifest); versions run side by side.',
    ),
    kind: z.enum(PLUGIN_KINDS),
    title: z.string().min(1),
    description: z.string().optional(),
    publisher: z.string().min(1),
    modelCard: z.string().min(1).describe('Path of the model card (intended use, validation, limitations).'),
    sdk: semverRange.describe('Range of plugin-contract (SDK) versions this plugin works with, e.g. ^0.1.0.'),
    triggers: z
      .array(trigger)
      .min(1)
      .describe("What starts a run: a focus resource (type and FHIRPath) or another plugin's result."),
    dataScope: dataScope.describe(
      'The FHIR resource types and restricted security labels the plugin may read.',
    ),
    inputs: z
      .array(feature)
      .min(1)
      .describe('One entry per model feature: where it comes from, its unit, whether required.'),
    model: model.describe('The ONNX file, its sha256, tensors and where it may run.'),
    outputs: z.array(output).min(1).describe('How output tensors become FHIR Observations.'),
    policy: z
      .object({
        observationStatus: z.enum(['preliminary', 'final', 'registered']).default('preliminary'),
        /** A run taking longer is stopped and recorded as failed. */
        timeoutMs: z
          .number()
          .int()
          .positive()
          .max(600_000)
          .default(10_000)
          .describe('A run taking longer is stopped and recorded as failed.'),
        maxConcurrency: z
          .number()
          .int()
          .positive()
          .default(4)
          .describe('Runs of this plugin version at once in one Aegle process; more wait their turn.'),
      })
      .strict()
      .default({ observationStatus: 'preliminary', timeoutMs: 10_000, maxConcurrency: 4 }),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (!m.id.startsWith(`${m.kind}-`)) {
      ctx.addIssue({ code: 'custom', path: ['id'], message: `must start with its kind, "${m.kind}-"` });
    }
    const scope = new Set(m.dataScope.resourceTypes);
    m.triggers.forEach((t, i) => {
      if (t.resourceType && !scope.has(t.resourceType)) {
        ctx.addIssue({
          code: 'custom',
          path: ['triggers', i, 'resourceType'],
          message: `${t.resourceType} is outside dataScope.resourceTypes (${[...scope].join(', ')})`,
        });
      }
      if (t.after === m.id) {
        ctx.addIssue({
          code: 'custom',
          path: ['triggers', i, 'after'],
          message: 'a plugin cannot follow itself',
        });
      }
    });
    m.inputs.forEach((f, i) => {
      const outside = resourceTypesRead(f.source).filter((type) => !scope.has(type));
      if (outside.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['inputs', i, 'source'],
          message: `"${f.name}" reads ${outside.join(' and ')}, outside dataScope.resourceTypes (${[...scope].join(', ')})`,
        });
      }
    });
    const seen = new Set<string>();
    m.inputs.forEach((f, i) => {
      if (seen.has(f.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['inputs', i, 'name'],
          message: `"${f.name}" is declared twice`,
        });
      }
      seen.add(f.name);
      if (f.required && f.default !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['inputs', i, 'default'],
          message: `"${f.name}" is required, so its default would never be used: set "required": false`,
        });
      }
      if (f.otherwise !== undefined && !f.map) {
        ctx.addIssue({ code: 'custom', path: ['inputs', i, 'otherwise'], message: 'needs a map' });
      }
    });
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

/** The FHIR resource types an input source reads from the record. */
export function resourceTypesRead(source: z.output<typeof inputSource>): string[] {
  switch (source.from) {
    case 'patient':
    case 'age':
      return ['Patient'];
    case 'observation':
    case 'member':
      return ['Observation'];
    case 'condition':
      return ['Condition'];
    case 'medication':
      return ['MedicationStatement', 'MedicationRequest'];
    case 'plugin':
      return [];
  }
}

export type PluginManifest = z.output<typeof manifestSchema>;
/** The manifest as written in plugin.json (defaults not yet applied). */
export type PluginManifestInput = z.input<typeof manifestSchema>;
export type Trigger = PluginManifest['triggers'][number];
export type DataScope = PluginManifest['dataScope'];
export type FeatureSpec = PluginManifest['inputs'][number];
export type InputSource = FeatureSpec['source'];
export type OutputSpec = PluginManifest['outputs'][number];
export type TensorSpec = PluginManifest['model']['outputs'][number];
export type Coding = z.output<typeof coding>;
export type ExecutionNeed = PluginManifest['model']['execution'];
