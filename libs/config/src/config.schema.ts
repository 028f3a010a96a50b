import { z } from 'zod';

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

const outboundAuth = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }).strict(),
  z.object({ type: z.literal('bearer'), token: secret }).strict(),
]);

const inbound = z
  .object({
    bearerToken: secret.optional(),
    hmacSecret: secret.optional(),
  })
  .strict()
  .refine((value) => value.bearerToken || value.hmacSecret, {
    message: 'needs bearerToken or hmacSecret: Aegle never accepts unauthenticated notifications',
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
  })
  .strict();

export const fileSchema = z
  .object({
    sources: z
      .array(sourceSchema)
      .min(1, 'declare at least one EHR source')
      .refine((sources) => new Set(sources.map((s) => s.id)).size === sources.length, {
        message: 'source ids must be unique',
      }),
    plugins: z
      .object({
        dirs: z.array(z.string().min(1)).default(['plugins']),
      })
      .strict()
      .default({ dirs: ['plugins'] }),
    intake: z
      .object({
        maxBodyBytes: z
          .number()
          .int()
          .positive()
          .default(5 * 1024 * 1024),
      })
      .strict()
      .default({ maxBodyBytes: 5 * 1024 * 1024 }),
    inference: z
      .object({
        intraOpThreads: z.number().int().min(0).default(1),
        graphOptimization: z.enum(['disabled', 'basic', 'extended', 'all']).default('all'),
      })
      .strict()
      .default({ intraOpThreads: 1, graphOptimization: 'all' }),
    organization: z
      .object({ name: z.string().min(1).default('Aegle') })
      .strict()
      .default({ name: 'Aegle' }),
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
});

export type Role = z.output<typeof envSchema>['ROLE'];
export type WorkerExecution = z.output<typeof envSchema>['AEGLE_WORKER_EXECUTION'];

export type SourceConfig = z.output<typeof sourceSchema>;
export type OutboundAuth = z.output<typeof outboundAuth>;
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
  sources: SourceConfig[];
  plugins: FileConfig['plugins'];
  intake: FileConfig['intake'];
  inference: FileConfig['inference'];
  organization: FileConfig['organization'];
}
