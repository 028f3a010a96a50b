import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AegleConfig, envSchema, fileSchema } from './config.schema';

/** Every problem found in the configuration, listed at once so an operator fixes them in one pass. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Aegle configuration is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function describe(prefix: string, error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return `${prefix}${path ? path : '(root)'}: ${issue.message}`;
  });
}

/**
 * Replaces `${NAME}` and `${NAME:-fallback}` in the YAML's strings with environment variables, so
 * secrets can live in the environment (or a secret store) rather than in the file.
 */
function interpolate(value: unknown, env: NodeJS.ProcessEnv, problems: string[], path = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_match, name: string, fallback?: string) => {
      const found = env[name] ?? fallback;
      if (found === undefined) problems.push(`${path || '(root)'}: environment variable ${name} is not set`);
      return found ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, problems, `${path}.${i}`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, interpolate(v, env, problems, path ? `${path}.${k}` : k)]),
    );
  }
  return value;
}

/** Validates the environment and the YAML file together; either a typed config or one ConfigError. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, fileOverride?: unknown): AegleConfig {
  const problems: string[] = [];
  const envResult = envSchema.safeParse(env);
  if (!envResult.success) problems.push(...describe('env ', envResult.error));

  const configPath = resolve(envResult.success ? envResult.data.AEGLE_CONFIG : './aegle.config.yaml');
  let raw: unknown = fileOverride;
  if (raw === undefined) {
    try {
      raw = interpolate(parseYaml(readFileSync(configPath, 'utf8')), env, problems);
    } catch (error) {
      problems.push(`${configPath}: ${(error as Error).message}`);
    }
  }
  const fileResult = raw === undefined ? undefined : fileSchema.safeParse(raw);
  if (fileResult && !fileResult.success) problems.push(...describe(`${configPath} `, fileResult.error));

  if (envResult.success && envResult.data.ROLE === 'worker' && envResult.data.AEGLE_HTTP_PROCESSES > 1) {
    problems.push(
      'env AEGLE_HTTP_PROCESSES: applies to the api and all roles; a worker scales by running more worker processes',
    );
  }
  if (problems.length > 0 || !envResult.success || !fileResult?.success) throw new ConfigError(problems);
  const e = envResult.data;
  return {
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    queuePrefix: e.AEGLE_QUEUE_PREFIX,
    adminToken: e.AEGLE_ADMIN_TOKEN,
    configPath,
    dataDir: resolve(e.AEGLE_DATA_DIR),
    logLevel: e.LOG_LEVEL,
    role: e.ROLE,
    workerExecution: e.AEGLE_WORKER_EXECUTION,
    shutdownTimeoutMs: e.AEGLE_SHUTDOWN_TIMEOUT_MS,
    reconcileIntervalMs: e.AEGLE_RECONCILE_INTERVAL_MS,
    stalledIntervalMs: e.AEGLE_STALLED_INTERVAL_MS,
    maxStalledCount: e.AEGLE_MAX_STALLED_COUNT,
    httpProcesses: e.AEGLE_HTTP_PROCESSES,
    ...fileResult.data,
  };
}
