import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { envSchema, loadConfig } from '@aegle/config';
import { HEALTH_PATHS } from '../apps/engine/src/health/health.controller';
import { RunningAegle, startAegle } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';

jest.setTimeout(30_000);

const ROOT = resolve(__dirname, '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are untyped YAML */
type Manifest = { kind: string; metadata: { name: string }; [key: string]: any };

const manifests: Manifest[] = readdirSync(join(ROOT, 'deploy/k8s'))
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(read(`deploy/k8s/${f}`)).map((d) => d.toJS() as Manifest))
  .filter(Boolean);
const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);
const named = (kind: string, name: string) => {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind} named ${name} in deploy/k8s`);
  return found;
};
const ENV_NAMES = new Set(Object.keys(envSchema.shape));
/** `${NAME}` / `${NAME:-default}` references of an Aegle config file, with whether they have a default. */
function configVariables(yamlText: string): Map<string, boolean> {
  return new Map([...yamlText.matchAll(/\$\{([A-Z0-9_]+)(:-[^}]*)?\}/g)].map((m) => [m[1], Boolean(m[2])]));
}

/** The environment a Deployment's container sees: env, then ConfigMaps and Secrets by envFrom. */
function containerEnv(container: any): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, named('ConfigMap', from.configMapRef.name).data);
    if (from.secretRef) Object.assign(env, named('Secret', from.secretRef.name).stringData);
  }
  for (const e of container.env ?? []) env[e.name] = e.value;
  return env;
}

describe('deployment manifests: docker-compose.yml, Dockerfile and deploy/k8s', () => {
  let ehr: TestFhirServer;
  let aegle: RunningAegle;
  const configFile = named('ConfigMap', 'aegle-files').data['aegle.config.yaml'] as string;

  beforeAll(async () => {
    ehr = await startFhirServer();
    aegle = await startAegle({
      sources: [{ id: 'ehr', fhirBaseUrl: ehr.baseUrl, bearerToken: 'deploy-inbound-token' }],
    });
  });

  afterAll(async () => {
    await aegle?.close();
    await ehr?.close();
  });

  const deployments = byKind('Deployment');

  it('has an api Deployment + Service, a CPU worker and a GPU worker', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual([
      'aegle-api',
      'aegle-worker',
      'aegle-worker-gpu',
    ]);
    const role = (name: string) => containerEnv(named('Deployment', name).spec.template.spec.containers[0]);
    expect(role('aegle-api').ROLE).toBe('api');
    expect(role('aegle-worker')).toMatchObject({ ROLE: 'worker', AEGLE_WORKER_EXECUTION: 'cpu' });
    expect(role('aegle-worker-gpu')).toMatchObject({ ROLE: 'worker', AEGLE_WORKER_EXECUTION: 'gpu' });

    const gpu = named('Deployment', 'aegle-worker-gpu').spec.template.spec;
    expect(Object.keys(gpu.nodeSelector ?? {})).toContain('nvidia.com/gpu.present');
    expect(Number(gpu.containers[0].resources.limits['nvidia.com/gpu'])).toBeGreaterThanOrEqual(1);
    const cpu = named('Deployment', 'aegle-worker').spec.template.spec;
    expect(cpu.nodeSelector).toBeUndefined();
    expect(cpu.containers[0].resources.limits['nvidia.com/gpu']).toBeUndefined();
  });

  it('wires every port: PORT, containerPort, probes and the Service agree', () => {
    for (const deployment of deployments) {
      const { spec } = deployment;
      expect(spec.selector.matchLabels).toEqual(expect.objectContaining(spec.template.metadata.labels));
      const container = spec.template.spec.containers[0];
      const ports = new Map<string, number>(container.ports.map((p: any) => [p.name, p.containerPort]));
      expect([...ports.values()]).toContain(Number(containerEnv(container).PORT));
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const port = container[probe].httpGet.port;
        expect(typeof port === 'number' ? [...ports.values()] : [...ports.keys()]).toContain(port);
      }
      // Drains before Kubernetes kills it.
      expect(spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
        Number(containerEnv(container).AEGLE_SHUTDOWN_TIMEOUT_MS),
      );
    }
    const service = named('Service', 'aegle-api');
    const api = named('Deployment', 'aegle-api').spec.template;
    expect(api.metadata.labels).toEqual(expect.objectContaining(service.spec.selector));
    for (const port of service.spec.ports) {
      expect(api.spec.containers[0].ports.map((p: any) => p.name)).toContain(port.targetPort);
    }
  });

  it('probes paths the app serves: liveness on /health, readiness on /health/ready', async () => {
    const paths = new Set<string>();
    for (const d of deployments) {
      const c = d.spec.template.spec.containers[0];
      expect(c.livenessProbe.httpGet.path).toBe(HEALTH_PATHS.live);
      expect(c.readinessProbe.httpGet.path).toBe(HEALTH_PATHS.ready);
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'])
        paths.add(c[probe].httpGet.path);
    }
    for (const path of paths) {
      const response = await fetch(`${aegle.url}${path}`);
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
    }
  });

  it('sets only environment variables Aegle reads, and all that its config file needs', () => {
    const variables = configVariables(configFile);
    for (const d of deployments) {
      const env = containerEnv(d.spec.template.spec.containers[0]);
      for (const name of Object.keys(env)) {
        expect({ name, known: ENV_NAMES.has(name) || variables.has(name) }).toEqual({ name, known: true });
      }
      for (const [name, hasDefault] of variables) {
        if (!hasDefault) expect({ name, set: name in env }).toEqual({ name, set: true });
      }
    }
  });

  it('gives every pod a configuration that loads (ConfigMap file + env + Secret)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegle-k8s-'));
    writeFileSync(join(dir, 'aegle.config.yaml'), configFile);
    const mount = named('Deployment', 'aegle-api').spec.template.spec.containers[0].volumeMounts[0].mountPath;
    for (const d of deployments) {
      const env = containerEnv(d.spec.template.spec.containers[0]);
      expect(env.AEGLE_CONFIG).toBe(`${mount}/aegle.config.yaml`);
      const config = loadConfig({ ...env, AEGLE_CONFIG: join(dir, 'aegle.config.yaml') });
      expect(config.role).toBe(env.ROLE);
      expect(config.sources[0]).toMatchObject({ id: env.EHR_SOURCE_ID, fhirBaseUrl: env.EHR_FHIR_URL });
      expect(config.adminToken?.reveal()).toBe(env.AEGLE_ADMIN_TOKEN);
    }
  });

  describe('docker-compose.yml', () => {
    const compose = parse(read('docker-compose.yml'), { merge: true }) as any;
    /** Compose's own `${VAR:-default}` interpolation, with the defaults (nothing set in the shell). */
    const interpolate = (env: Record<string, string>) =>
      Object.fromEntries(
        Object.entries(env).map(([k, v]) => [k, String(v).replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1')]),
      );

    it('runs an api, two workers, PostgreSQL and Redis', () => {
      expect(Object.keys(compose.services).sort()).toEqual(['api', 'postgres', 'redis', 'worker']);
      expect(compose.services.api.environment.ROLE).toBe('api');
      expect(compose.services.worker.environment.ROLE).toBe('worker');
      expect(compose.services.worker.deploy.replicas).toBe(2);
      expect(compose.services.api.ports).toEqual([`3000:${compose.services.api.environment.PORT}`]);
    });

    it('gives the containers a configuration that loads, with the image’s config file', () => {
      const dockerfile = read('Dockerfile');
      const configPath = /AEGLE_CONFIG=(\S+)/.exec(dockerfile)![1];
      expect(dockerfile).toContain(`COPY deploy/aegle.config.yaml ${configPath}`);
      // The image starts Aegle as `npm start` does (V8's background pool sized to the cores).
      expect(dockerfile).toContain('CMD ["node", "--v8-pool-size=0", "dist/apps/engine/src/main.js"]');
      // npm's shell execs it, so the signal sent to `npm start` reaches Node (test/signals.e2e-spec.ts).
      expect(JSON.parse(read('package.json')).scripts.start).toBe(
        'exec node --v8-pool-size=0 dist/apps/engine/src/main.js',
      );
      const file = read('deploy/aegle.config.yaml');
      const variables = configVariables(file);
      for (const service of ['api', 'worker']) {
        const env = interpolate(compose.services[service].environment);
        for (const name of Object.keys(env)) {
          expect({ name, known: ENV_NAMES.has(name) || variables.has(name) }).toEqual({ name, known: true });
        }
        const config = loadConfig({ ...env, AEGLE_CONFIG: join(ROOT, 'deploy/aegle.config.yaml') });
        expect(config.databaseUrl).toMatch(/@postgres:5432\//);
        expect(config.redisUrl).toBe('redis://redis:6379');
        expect(compose.services[service].depends_on).toMatchObject({
          postgres: { condition: 'service_healthy' },
          redis: { condition: 'service_healthy' },
        });
      }
    });
  });
});
