import { valid as validSemver, validRange } from 'semver';
import { z } from 'zod';
import { PLUGIN_ID, PLUGIN_ID_RULE, PLUGIN_KINDS } from '@aegle/config/plugin-id';

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

// The plugin id rule is libs/config's, which the engine's configuration checks ids by too.
export { PLUGIN_ID, PLUGIN_ID_RULE, PLUGIN_KINDS } from '@aegle/config/plugin-id';

const pluginId = z.string().regex(PLUGIN_ID, `must be ${PLUGIN_ID_RULE}`);
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

const imagePreprocessing = z
  .object({
    voi: z
      .enum(['dicom', 'full-range'])
      .default('dicom')
      .describe(
        'VOI LUT: "dicom" applies the file\'s first window (center/width) when it has one, else the full value range; "full-range" always maps the full range the stored bits allow.',
      ),
    range: z
      .tuple([z.number(), z.number()])
      .default([0, 255])
      .describe('The grey levels the model was trained on; the VOI maps the image onto this range.'),
    width: z.number().int().positive().max(4096).describe("The model's input width in pixels."),
    height: z.number().int().positive().max(4096).describe("The model's input height in pixels."),
    interpolation: z
      .enum(['area', 'bilinear', 'nearest'])
      .describe(
        'The training pipeline\'s resampling to width × height ("area": box filter, as PIL BOX or OpenCV INTER_AREA).',
      ),
  })
  .strict()
  .refine((p) => p.range[0] < p.range[1], {
    message: 'range must be [low, high] with low < high',
    path: ['range'],
  });

/** Which image of the focus is read, what is refused, and how it becomes the model's tensor. */
const imageSource = z
  .object({
    from: z.literal('image'),
    modalities: z
      .array(z.string().regex(/^[A-Z0-9]{2,4}$/, 'must be a DICOM modality code such as CR'))
      .min(1)
      .describe('DICOM modalities the model reads (series of other modalities are refused), e.g. CR, DX.'),
    bodyParts: z
      .array(z.string().regex(/^[A-Z0-9 ]+$/, 'must be a DICOM BodyPartExamined value such as CHEST'))
      .min(1)
      .optional()
      .describe('DICOM BodyPartExamined values accepted; a file stating another body part is refused.'),
    bodySites: z
      .array(systemCode)
      .min(1)
      .optional()
      .describe(
        'Codes of ImagingStudy.series.bodySite accepted (e.g. SNOMED CT 51185008 thoracic structure).',
      ),
    views: z
      .array(z.string().regex(/^[A-Z]{1,4}$/, 'must be a DICOM ViewPosition such as PA'))
      .min(1)
      .optional()
      .describe(
        'DICOM ViewPosition values read, in order of the series: the first instance with one of them is used.',
      ),
    maxPixels: z
      .number()
      .int()
      .positive()
      .default(50_000_000)
      .describe('Largest image accepted (rows × columns); larger ones are refused.'),
    maxBytes: z
      .number()
      .int()
      .positive()
      .default(256 * 1024 * 1024)
      .describe('Largest file fetched, in bytes; larger ones are refused unread.'),
    preprocess: imagePreprocessing,
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
  /**
   * The latest genotype result for one gene, as the HL7 Genomics Reporting IG writes it: an
   * Observation coded LOINC 84413-4 (genotype display name) whose 48018-6 (gene studied) component
   * names the gene by HGNC id, with or without the `HGNC:` prefix, or by symbol.
   */
  z
    .object({
      from: z.literal('genotype'),
      hgnc: z.string().regex(/^HGNC:\d+$/, 'must be an HGNC id such as HGNC:2623'),
      symbol: z.string().min(1).describe('Gene symbol, e.g. CYP2C9.'),
      lookback: lookback.optional(),
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
  /**
   * The image the focus points at (an ImagingStudy's instance fetched over DICOMweb, or a
   * DocumentReference's or Binary's PNG, JPEG or DICOM attachment), decoded and preprocessed into
   * the model's input tensor as declared here.
   */
  imageSource,
]);

/** A recorded value (a code, `system|code` or text; compared without regard to case). */
const recordedValue = z.string().min(1);

const genotype = z
  .object({
    gene: z
      .string()
      .min(1)
      .describe('Gene symbol labs prefix to alleles, e.g. "CYP2C9"; removed before matching.'),
    variant: z
      .array(z.string().min(1))
      .optional()
      .describe('Names of the one variant a SNV genotype is about (rsID, HGVS), removed before matching.'),
    alleles: z
      .record(z.string().regex(/^[A-Za-z]$/), z.string().regex(/^[A-Za-z]$/))
      .optional()
      .describe(
        'The same allele on the other strand, e.g. {"C": "G", "T": "A"} for rs9923231 reported on the plus strand.',
      ),
  })
  .strict()
  .describe(
    'Reads the value as a genotype: gene and variant names, case, strand and allele order do not matter, so "CYP2C9 *3/*1" matches the key "*1/*3".',
  );

/** Several recorded values for one input (e.g. two races): which one the model gets. */
const multiple = z
  .union([z.literal('first'), z.literal('any'), z.literal('all'), z.object({ mixed: z.number() }).strict()])
  .describe(
    '"first": the first value recorded; "any": the largest value any of them maps to (yes when any is yes); "all": the smallest; {"mixed": n}: n when they map to different values.',
  );

/** What the result's note says when a value was not taken as recorded. Placeholder: {value}. */
const notes = z
  .object({
    otherwise: z
      .string()
      .min(1)
      .optional()
      .describe('When "otherwise" was used for a recorded value the map does not know.'),
    unknown: z
      .string()
      .min(1)
      .optional()
      .describe('When a recorded "unknown" value was sent as unknown.value.'),
    default: z.string().min(1).optional().describe('When nothing was recorded and "default" was used.'),
    mixed: z
      .string()
      .min(1)
      .optional()
      .describe('When several different values were recorded and multiple.mixed was used.'),
  })
  .strict();

const feature = z
  .object({
    name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/, 'must be a camelCase identifier'),
    label: z
      .string()
      .min(1)
      .optional()
      .describe(
        'What a clinician calls this input ("sex", "CYP2C9 genotype"); shown in the console and notes.',
      ),
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
    genotype: genotype.optional(),
    map: z
      .record(z.string(), z.number())
      .optional()
      .describe('Coded or string values to numbers; keys are "system|code", a code or a string.'),
    multiple: multiple.default('first'),
    otherwise: z
      .number()
      .optional()
      .describe('Number used when a value exists but matches no key of "map"; needs notes.otherwise.'),
    unknown: z
      .object({
        values: z
          .array(recordedValue)
          .min(1)
          .describe('Recorded values that say the result is not known, e.g. "Indeterminate", "No call".'),
        value: z
          .number()
          .optional()
          .describe('The model\'s own "unknown" category; without it such a value skips the run.'),
      })
      .strict()
      .optional(),
    notes: notes.optional(),
    required: z.boolean().default(true),
    default: z
      .number()
      .optional()
      .describe('Used when the value is missing and the feature is not required; needs notes.default.'),
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

/**
 * A patient the model was not made for: when the criterion holds, the run ends as skipped with the
 * criterion named, whatever the inputs.
 */
const exclusion = z
  .object({
    criterion: z.string().min(1).describe('Named in the skip reason, e.g. "clinical ASCVD".'),
    condition: z
      .object({
        valueSet: z
          .string()
          .min(1)
          .describe('Path of a FHIR ValueSet (JSON) beside the manifest; its source is in the file.'),
        status: z
          .enum(['active', 'any'])
          .default('active')
          .describe(
            '"any": a resolved or inactive Condition counts too (a history of myocardial infarction).',
          ),
        /** Filled by the loader from the value set: `system|code` patterns. */
        codes: z.array(systemCode).optional(),
      })
      .strict()
      .optional(),
    observation: z
      .object({
        codes: z.array(systemCode).min(1),
        lookback: lookback.optional(),
        path: fhirPath.optional(),
        unit: z.string().optional(),
        molarMass: z.number().positive().optional(),
        atLeast: z.number().optional().describe('Excluded when the latest value is at least this (in unit).'),
        values: z
          .array(recordedValue)
          .min(1)
          .optional()
          .describe('Excluded when the latest value is one of these codes (e.g. pregnant).'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (!e.condition === !e.observation)
      ctx.addIssue({ code: 'custom', message: 'needs exactly one of condition or observation' });
    if (e.observation && e.observation.atLeast === undefined && !e.observation.values)
      ctx.addIssue({ code: 'custom', path: ['observation'], message: 'needs atLeast or values' });
  });

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
    probability: z
      .boolean()
      .default(false)
      .describe(
        'The value is a probability or risk (unit "%" or "1"): a model is never certain, so a value that rounds to 0 or 100 % is reported as "< 0.1" or "> 99.9" (Quantity.comparator).',
      ),
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
    exclusions: z
      .array(exclusion)
      .default([])
      .describe(
        'Patients the model was not made for (a condition, a lab value): the run is skipped, the criterion named.',
      ),
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
    m.exclusions.forEach((e, i) => {
      const type = e.condition ? 'Condition' : 'Observation';
      if (!scope.has(type)) {
        ctx.addIssue({
          code: 'custom',
          path: ['exclusions', i],
          message: `"${e.criterion}" reads ${type}, outside dataScope.resourceTypes (${[...scope].join(', ')})`,
        });
      }
    });
    m.outputs.forEach((o, i) => {
      if (o.probability && o.unit !== '%' && o.unit !== '1') {
        ctx.addIssue({
          code: 'custom',
          path: ['outputs', i, 'probability'],
          message: `a probability is reported in "%" or "1", not "${o.unit}"`,
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
      // A value the model does not know never silently becomes a category: the note says so.
      const unsaid: Array<[boolean, keyof NonNullable<typeof f.notes>, string]> = [
        [f.otherwise !== undefined, 'otherwise', 'otherwise'],
        [f.unknown?.value !== undefined, 'unknown', 'unknown.value'],
        [f.default !== undefined, 'default', 'default'],
        [typeof f.multiple === 'object', 'mixed', 'multiple.mixed'],
      ];
      for (const [used, note, field] of unsaid) {
        if (used && !f.notes?.[note]) {
          ctx.addIssue({
            code: 'custom',
            path: ['inputs', i, 'notes', note],
            message: `"${f.name}" uses ${field}: say in notes.${note} what the result's note tells the clinician`,
          });
        }
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
    m.model.inputs.forEach((t, i) => {
      const images = m.inputs.filter((f) => f.source.from === 'image' && t.features.includes(f.name));
      const image = images[0]?.source;
      if (!image || image.from !== 'image') return;
      const { width, height } = image.preprocess;
      const [, channels, rows, columns] = t.shape;
      if (
        t.features.length !== 1 ||
        t.shape.length !== 4 ||
        channels !== 1 ||
        rows !== height ||
        columns !== width
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['model', 'inputs', i],
          message: `an image input takes a tensor of its own, of shape [N, 1, ${height}, ${width}] (NCHW, one grey channel)`,
        });
      }
    });
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
    case 'genotype':
      return ['Observation'];
    case 'condition':
      return ['Condition'];
    case 'medication':
      return ['MedicationStatement', 'MedicationRequest'];
    case 'plugin':
    case 'image':
      // An image is read from the focus (its type is in scope through the trigger) or a PACS.
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
export type ImageSource = Extract<InputSource, { from: 'image' }>;
export type OutputSpec = PluginManifest['outputs'][number];
export type TensorSpec = PluginManifest['model']['outputs'][number];
export type Coding = z.output<typeof coding>;
export type ExecutionNeed = PluginManifest['model']['execution'];
export type ExclusionSpec = PluginManifest['exclusions'][number];
