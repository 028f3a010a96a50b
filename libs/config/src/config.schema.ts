import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { PLUGIN_ID, PLUGIN_ID_RULE } from './plugin-id';

/** Marks a value that must never reach a log line. */
export class Secret {
  constructor(private readonly value: string) {}
  reveal(): string {
    return this.value;
  }
  toJSON(): string {
    return '[secret]';
  }
  toString(): string {
    return '[secret]';
  }
}

const secret = z
  .string()
  .min(8, 'must be at least 8 characters')
  .transform((value) => new Secret(value));

const sourceId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and dashes (it appears in a URL)');

const httpsUrl = z.url({ protocol: /^https?$/ });

/** How Aegle authenticates to a source's FHIR API. */
const outboundAuth = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }).strict(),
  z.object({ type: z.literal('bearer'), token: secret }).strict(),
  /** OAuth 2.0 client credentials with a client secret (HTTP Basic at the token endpoint). */
  z
    .object({
      type: z.literal('oauth2-client-credentials'),
      tokenUrl: httpsUrl,
      clientId: z.string().min(1),
      clientSecret: secret,
      scope: z.string().min(1).optional(),
    })
    .strict(),
  /**
   * SMART Backend Services: the token endpoint is discovered from the FHIR base's
   * `.well-known/smart-configuration` (unless `tokenUrl` is set), and Aegle proves who it is with a
   * JWT signed by its private key (PEM PKCS#8 or a JWK as JSON, usually `${ENV}`-interpolated).
   */
  z
    .object({
      type: z.literal('smart-backend-services'),
      clientId: z.string().min(1),
      privateKey: z
        .string()
        .min(1)
        .transform((value) => new Secret(value)),
      algorithm: z.enum(['RS384', 'ES384']).default('RS384'),
      /** The `kid` of the key in the JWK Set registered with the EHR. */
      keyId: z.string().min(1).optional(),
      scope: z
        .string()
        .min(1)
        .default('system/*.rs system/Observation.cu system/Device.c system/Provenance.c'),
      tokenUrl: httpsUrl.optional(),
    })
    .strict(),
]);

/** What becomes of an earlier Aegle Observation when newer inputs give a new result. */
const supersedeMode = z.enum(['amended', 'cancelled', 'replaces', 'none']);

/** Write-back delivery: retries, circuit breaker and superseding, per source. */
const writeBack = z
  .object({
    /** How long a result keeps being retried before it becomes a dead letter. Default 24 h. */
    retryHorizonMs: z
      .number()
      .int()
      .positive()
      .default(24 * 3600_000),
    /** First retry delay; it doubles each attempt (with jitter) up to `backoffMaxMs`. */
    backoffBaseMs: z.number().int().positive().default(1_000),
    backoffMaxMs: z
      .number()
      .int()
      .positive()
      .default(15 * 60_000),
    /** Consecutive retryable failures that open the source's circuit breaker. */
    breakerThreshold: z.number().int().positive().default(5),
    /** How long an open breaker holds jobs back before one probe request is let through. */
    breakerCooldownMs: z.number().int().positive().default(30_000),
    /**
     * Write each result with its Provenance and supersessions as one transaction Bundle (atomic).
     * Off for EHRs that accept no transactions: the same conditional writes go one by one.
     */
    transactions: z.boolean().default(true),
    /** Default for every plugin; `supersedeByPlugin` overrides it per plugin id. */
    supersede: supersedeMode.default('amended'),
    supersedeByPlugin: z.record(z.string(), supersedeMode).default({}),
  })
  .strict();

const inbound = z
  .object({
    bearerToken: secret.optional(),
    hmacSecret: secret.optional(),
  })
  .strict()
  .refine((value) => value.bearerToken || value.hmacSecret, {
    message: 'needs bearerToken or hmacSecret: Aegle never accepts unauthenticated notifications',
  });

/** How Aegle subscribes to a source, and how it catches up when notifications go missing. */
const subscriptionSettings = z
  .object({
    /**
     * R4 search criteria, e.g. `Observation?code=http://loinc.org|2093-3`: what a classic Subscription
     * asks for, and what Aegle searches with `_lastUpdated` after a ping or a gap.
     */
    criteria: z
      .array(z.string().regex(/^[A-Z][A-Za-z]{1,63}(\?.*)?$/, 'must be {ResourceType}?{query}'))
      .default([]),
    /** Backport/R5 SubscriptionTopic canonical; set it to subscribe topic-based instead of classic. */
    topic: z.string().min(1).optional(),
    /** The EHR implements `Subscription/{id}/$events`, so gaps are filled by event number. */
    eventsOperation: z.boolean().default(false),
    /** Seconds between the heartbeats the EHR sends; silent for twice this, a subscription is flagged. */
    heartbeatSeconds: z.number().int().positive().optional(),
    /** Payload content a topic-based subscription asks for. */
    content: z.enum(['empty', 'id-only', 'full-resource']).default('id-only'),
    /** How far back the first `_lastUpdated` catch-up looks when nothing was seen from the source yet. */
    lookbackSeconds: z.number().int().positive().default(3600),
    /**
     * What the EHR's Subscriptions do, so the ones Aegle creates fire: `r4` (R4 classic rest-hook,
     * created `requested` for the server to activate), `medplum` (classic rest-hook created `active`,
     * Medplum has no rest-hook handshake, with its signing-secret extension set to the source's
     * `inbound.hmacSecret`), `backport` (topic-based, `requested` until the EHR's handshake).
     * Default: `backport` when a topic is set, else `r4`.
     */
    dialect: z.enum(['r4', 'medplum', 'backport']).optional(),
  })
  .strict()
  .refine((s) => s.dialect !== 'backport' || s.topic, {
    message: 'dialect backport needs a topic',
    path: ['topic'],
  })
  .refine((s) => s.dialect !== 'medplum' || !s.topic, {
    message: 'Medplum 5 sends classic rest-hooks only: dialect medplum takes criteria, not a topic',
    path: ['topic'],
  })
  .transform((s) => ({ ...s, dialect: s.dialect ?? (s.topic ? ('backport' as const) : ('r4' as const)) }));

/**
 * How hard Aegle may press one EHR, shared by every Aegle process: requests in flight are capped by
 * an adaptive limit (it halves when answers slow down or the EHR says 429/503, and grows back by one
 * per round of quick answers), within [minInFlight, maxInFlight]; with a request budget, no more than
 * `requests` go out in any `perSeconds` window (a batch counts one per entry, as Medplum counts).
 */
const pacing = z
  .object({
    maxInFlight: z.number().int().positive().max(256).default(16),
    minInFlight: z.number().int().positive().default(1),
    /**
     * Answers of one kind (a read, a batch, a transaction) that stay this many times slower than usual
     * for that kind (smoothed over the last few) count as the EHR slowing down.
     */
    slowFactor: z.number().min(1.5).default(3),
    requestBudget: z
      .object({
        requests: z.number().int().positive(),
        perSeconds: z.number().int().positive().default(60),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((p) => p.minInFlight <= p.maxInFlight, {
    message: 'minInFlight must not exceed maxInFlight',
    path: ['minInFlight'],
  });

export const sourceSchema = z
  .object({
    id: sourceId,
    name: z.string().optional(),
    fhirBaseUrl: z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, '')),
    auth: outboundAuth.default({ type: 'none' }),
    inbound,
    /** How long one request to the EHR may take. */
    requestTimeoutMs: z.number().int().positive().default(10_000),
    writeBack: writeBack.default(() => writeBack.parse({})),
    /** Also record each write-back as a FHIR AuditEvent on this EHR. */
    auditEvents: z.boolean().default(false),
    subscription: subscriptionSettings.prefault({}),
    /** The PACS this source's ImagingStudy endpoints may name (see docs/imaging.md). */
    imaging: z
      .object({
        /**
         * DICOMweb base URLs Aegle fetches instances from, with the source's `auth`. An Endpoint
         * with any other address is refused, so the source's credentials go to no other host.
         */
        dicomWebBaseUrls: z.array(httpsUrl.transform((url) => url.replace(/\/+$/, ''))).default([]),
        /** How long fetching one instance may take. */
        requestTimeoutMs: z.number().int().positive().default(30_000),
      })
      .strict()
      .prefault({}),
    pacing: pacing.prefault({}),
  })
  .strict()
  .refine((s) => s.subscription.dialect !== 'medplum' || s.inbound.hmacSecret, {
    message: 'dialect medplum needs inbound.hmacSecret: Medplum signs its deliveries with it',
    path: ['inbound', 'hmacSecret'],
  });

const version = z
  .string()
  .regex(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/, 'must be a version such as 1.2.0');

/** Which versions of one plugin run, and how (see README, "Plugins: versions, shadow and canary"). */
const rolloutSchema = z
  .object({
    /** The version whose results are written to the EHR; default the highest version loaded. */
    live: version.optional(),
    /** A version that takes over from `live` for a share of patients (chosen by patient, stably). */
    canary: z
      .object({ version, percent: z.number().min(0).max(100) })
      .strict()
      .optional(),
    /** Versions that run on every matching event and are audited, but never write to the EHR. */
    shadow: z.array(version).default([]),
  })
  .strict()
  .refine((r) => !r.canary || r.canary.version !== r.live, {
    message: 'canary.version must differ from live',
  });

/** Per-plugin limits that override the manifest's policy. */
const limitsSchema = z
  .object({
    timeoutMs: z.number().int().positive().max(600_000).optional(),
    maxConcurrency: z.number().int().positive().optional(),
  })
  .strict();

const pluginIdKey = z.string().regex(PLUGIN_ID);
const notPluginId = (issue: { code?: string }) =>
  issue.code === 'invalid_key' ? `is not a plugin id (${PLUGIN_ID_RULE})` : undefined;

/** An npm package name as `npm install` takes it, without a version or path (`name`, `@scope/name`). */
const npmPackageName = z.string().regex(/^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/, {
  error: 'must be an installed npm package name such as acme-plugin or @acme/plugin (no version, no path)',
});

export const pluginsSchema = z
  .object({
    /** Folders whose sub-folders are plugins (each with a plugin.json). */
    dirs: z.array(z.string().min(1)).default(['plugins']),
    /** npm packages that are plugins (a plugin.json at the package root), resolved from the config's folder. */
    packages: z.array(npmPackageName).default([]),
    rollout: z.record(pluginIdKey, rolloutSchema, { error: notPluginId }).default({}),
    limits: z.record(pluginIdKey, limitsSchema, { error: notPluginId }).default({}),
  })
  .strict()
  .default({ dirs: ['plugins'], packages: [], rollout: {}, limits: {} });

/** Where a model may run; see `inference.execution`. */
const executionPolicySchema = z.enum(['cpu', 'prefer-gpu', 'require-gpu']);

/** Dynamic batching, as Triton's `max_batch_size` and `max_queue_delay_microseconds`. */
const batchingSchema = z
  .object({
    /** Most requests coalesced into one `session.run`; 1 turns batching off. */
    maxBatchSize: z.number().int().min(1).max(4096).default(64),
    /**
     * How long the oldest waiting request may wait for company. 0 coalesces the requests that
     * arrive in the same event-loop turn; Node timers round larger values up to whole milliseconds.
     */
    maxQueueDelayMicroseconds: z.number().int().min(0).max(1_000_000).default(0),
  })
  .strict();

const inferenceSchema = z
  .object({
    /** onnxruntime threads inside one operator, per session (0: one per core). */
    intraOpThreads: z.number().int().min(0).default(1),
    /** onnxruntime threads across independent operators, per session. */
    interOpThreads: z.number().int().min(0).default(1),
    graphOptimization: z.enum(['disabled', 'basic', 'extended', 'all']).default('all'),
    /** Overrides every plugin's `model.execution` (the operator knows the host); unset: each plugin decides. */
    execution: executionPolicySchema.optional(),
    /** CUDA device used by `prefer-gpu` and `require-gpu`. */
    cudaDeviceId: z.number().int().min(0).default(0),
    /** Defaults for models whose manifest does not set `model.batching`. */
    batching: batchingSchema.prefault({}),
    /** Default for `model.concurrency`: `session.run` calls of one model in flight at once. */
    concurrency: z.number().int().min(1).max(64).default(1),
  })
  .strict()
  .prefault({});

/** The audit trail's PHI policy and retention. */
export const auditSchema = z
  .object({
    /**
     * `full` keeps each input value (reproducible from the record alone); `hash` keeps only an
     * HMAC-SHA256 of it (with `inputHashKey`), beside its unit and source reference and version.
     */
    storeInputs: z.enum(['full', 'hash']).default('full'),
    inputHashKey: secret.optional(),
    retention: z
      .object({
        /** Records older than this are pruned; unset keeps everything. */
        maxAgeDays: z.number().positive().optional(),
        checkEveryMinutes: z.number().positive().default(60),
      })
      .strict()
      .default({ checkEveryMinutes: 60 }),
  })
  .strict()
  .refine((audit) => audit.storeInputs === 'full' || audit.inputHashKey, {
    message: 'storeInputs: hash needs inputHashKey (a plain hash of a lab value is easily reversed)',
    path: ['inputHashKey'],
  });

export const fileSchema = z
  .object({
    // None yet is a valid first run: Aegle starts, is ready, and says how to connect an EHR.
    sources: z
      .array(sourceSchema)
      .refine((sources) => new Set(sources.map((s) => s.id)).size === sources.length, {
        message: 'source ids must be unique',
      })
      .default([]),
    plugins: pluginsSchema,
    intake: z
      .object({
        maxBodyBytes: z
          .number()
          .int()
          .positive()
          .default(5 * 1024 * 1024),
        /** Aegle's base URL as the EHRs reach it; Subscriptions Aegle creates point at {publicUrl}/fhir/notify/{source}. */
        publicUrl: z
          .url({ protocol: /^https?$/ })
          .transform((url) => url.replace(/\/+$/, ''))
          .optional(),
      })
      .strict()
      .prefault({}),
    inference: inferenceSchema,
    organization: z
      .object({ name: z.string().min(1).default('Aegle') })
      .strict()
      .default({ name: 'Aegle' }),
    audit: auditSchema.default({ storeInputs: 'full', retention: { checkEveryMinutes: 60 } }),
  })
  .strict();

export const envSchema = z.object({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  AEGLE_CONFIG: z.string().default('./aegle.config.yaml'),
  AEGLE_ADMIN_TOKEN: secret.optional(),
  AEGLE_DATA_DIR: z.string().default('./.aegle'),
  AEGLE_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]+$/)
    .default('aegle'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** api: intake, admin, health, metrics. worker: queue processors, health, metrics. all: both. */
  ROLE: z.enum(['api', 'worker', 'all']).default('all'),
  /** Which plugin runs this process's workers take: cpu plugins, gpu plugins, or any. */
  AEGLE_WORKER_EXECUTION: z.enum(['cpu', 'gpu', 'any']).default('any'),
  /** How long SIGTERM waits for in-flight requests and jobs before exiting anyway. */
  AEGLE_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(25_000),
  /** How often workers re-queue unfinished work that Redis may have lost. */
  AEGLE_RECONCILE_INTERVAL_MS: z.coerce.number().int().positive().default(30_000),
  /** How often workers look for jobs whose worker stopped (lock expired) and hand them on. */
  AEGLE_STALLED_INTERVAL_MS: z.coerce.number().int().positive().default(30_000),
  /** How many times a job may lose its worker and be handed on before it fails for good. */
  AEGLE_MAX_STALLED_COUNT: z.coerce.number().int().min(0).default(1),
  /**
   * Processes that serve HTTP on the one port (node:cluster), a number or `auto` (one per CPU):
   * one Node process uses one core. For VMs and bare metal; in Kubernetes keep 1 and scale replicas.
   */
  AEGLE_HTTP_PROCESSES: z
    .union([z.literal('auto'), z.coerce.number().int().min(1).max(64)])
    .default(1)
    .transform((value) => (value === 'auto' ? availableParallelism() : value)),
});

export type Role = z.output<typeof envSchema>['ROLE'];
export type WorkerExecution = z.output<typeof envSchema>['AEGLE_WORKER_EXECUTION'];

export type SourceConfig = z.output<typeof sourceSchema>;
export type SubscriptionSettings = z.output<typeof subscriptionSettings>;
export type OutboundAuth = z.output<typeof outboundAuth>;
export type WriteBackConfig = z.output<typeof writeBack>;
export type PacingConfig = z.output<typeof pacing>;
export type SupersedeMode = z.output<typeof supersedeMode>;
export type InferenceConfig = z.output<typeof inferenceSchema>;
type FileConfig = z.output<typeof fileSchema>;

/** Aegle's whole configuration, validated once at boot. */
export interface AegleConfig {
  port: number;
  /** Unset: `npm start` runs an embedded PostgreSQL under `dataDir`. */
  databaseUrl?: string;
  redisUrl: string;
  queuePrefix: string;
  adminToken?: Secret;
  configPath: string;
  dataDir: string;
  logLevel: z.output<typeof envSchema>['LOG_LEVEL'];
  role: Role;
  workerExecution: WorkerExecution;
  shutdownTimeoutMs: number;
  reconcileIntervalMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  /**
   * How many processes serve HTTP (1: this one). With more, a primary forks them: in role `api`
   * each is an api process; in role `all` the first runs `all` and the others `api`.
   */
  httpProcesses: number;
  sources: SourceConfig[];
  plugins: FileConfig['plugins'];
  intake: FileConfig['intake'];
  inference: FileConfig['inference'];
  organization: FileConfig['organization'];
  audit: FileConfig['audit'];
}
