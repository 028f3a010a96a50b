import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startAegle, RunningAegle } from './support/aegle-app';
import { startFhirServer, TestFhirServer } from './support/fhir-server';
import { adminApi, json } from './support/http';

const TOKEN = 'subscriptions-e2e-token';
const ADMIN = 'subscriptions-e2e-admin';
const run = promisify(execFile);

describe('subscription management on the source EHR', () => {
  let ehr: TestFhirServer;
  let aegle: RunningAegle;

  beforeAll(async () => {
    ehr = await startFhirServer();
    aegle = await startAegle({
      adminToken: ADMIN,
      intake: { publicUrl: 'https://aegle.example.org/' },
      sources: [
        {
          id: 'classic',
          fhirBaseUrl: ehr.baseUrl,
          bearerToken: TOKEN,
          subscription: {
            criteria: ['Observation?code=http://loinc.org|2093-3', 'Encounter?status=finished'],
          },
        },
        {
          id: 'topical',
          fhirBaseUrl: ehr.baseUrl,
          bearerToken: TOKEN,
          subscription: {
            topic: 'http://example.org/topics/lab-results',
            criteria: ['Observation?category=laboratory'],
            content: 'full-resource',
            heartbeatSeconds: 120,
          },
        },
      ],
    });
  });

  afterAll(async () => {
    await aegle?.close();
    await ehr?.close();
  });

  const admin = adminApi(() => aegle.url, ADMIN);

  const onEhr = async (tag: string) =>
    (
      await json<fhir4.Bundle>(
        fetch(`${ehr.baseUrl}/Subscription?_tag=https://aegle.dev/fhir/CodeSystem/subscription-owner|${tag}`),
      )
    ).entry?.map((e) => e.resource as fhir4.Subscription) ?? [];

  it('creates one R4 classic rest-hook Subscription per criteria, with the bearer token in channel.header', async () => {
    const response = await admin('POST', '/sources/classic/subscriptions');
    expect(response.status).toBe(200);
    const created = await onEhr('classic');
    expect(created.map((s) => s.criteria).sort()).toEqual([
      'Encounter?status=finished',
      'Observation?code=http://loinc.org|2093-3',
    ]);
    for (const subscription of created) {
      expect(subscription).toMatchObject({
        status: 'requested',
        channel: {
          type: 'rest-hook',
          endpoint: 'https://aegle.example.org/fhir/notify/classic',
          payload: 'application/fhir+json',
          header: [`Authorization: Bearer ${TOKEN}`],
        },
      });
    }
    // Idempotent: a second create adds nothing.
    expect((await admin('POST', '/sources/classic/subscriptions')).status).toBe(200);
    expect(await onEhr('classic')).toHaveLength(2);
  });

  it('creates a Backport topic-based Subscription where the source names a topic', async () => {
    const [subscription] = await json<Array<{ kind: string; id: string }>>(
      admin('POST', '/sources/topical/subscriptions', {
        endpoint: 'https://other.example.org/fhir/notify/topical',
      }),
    );
    expect(subscription.kind).toBe('backport');
    const [stored] = await onEhr('topical');
    expect(stored.criteria).toBe('http://example.org/topics/lab-results');
    expect(stored.meta?.profile).toContain(
      'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription',
    );
    expect(JSON.stringify(stored)).toContain('"valueCode":"full-resource"');
    expect(JSON.stringify(stored)).toContain('"valueUnsignedInt":120');
    expect(stored.channel.endpoint).toBe('https://other.example.org/fhir/notify/topical');
  });

  it('shows the status, re-activates an errored Subscription, and removes them', async () => {
    const [first] = await onEhr('classic');
    await fetch(`${ehr.baseUrl}/Subscription/${first.id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ ...first, status: 'error', error: 'endpoint unreachable' }),
    });
    const status = await json<Array<{ id: string; status: string; error?: string }>>(
      admin('GET', '/sources/classic/subscriptions'),
    );
    expect(status.find((s) => s.id === first.id)).toMatchObject({
      status: 'error',
      error: 'endpoint unreachable',
    });

    const reactivated = await json<Array<{ id: string; status: string }>>(
      admin('POST', '/sources/classic/subscriptions/reactivate'),
    );
    expect(reactivated.find((s) => s.id === first.id)?.status).toBe('requested');
    expect((await onEhr('classic')).find((s) => s.id === first.id)?.error).toBeUndefined();

    expect(await json(admin('DELETE', '/sources/classic/subscriptions'))).toEqual({ removed: 2 });
    expect(await onEhr('classic')).toEqual([]);
    expect(await onEhr('topical')).toHaveLength(1); // another source's subscriptions are left alone
  });

  it('refuses without the admin token, and names an unknown source', async () => {
    expect((await fetch(`${aegle.url}/api/admin/sources/classic/subscriptions`)).status).toBe(401);
    expect((await admin('GET', '/sources/nope/subscriptions')).status).toBe(404);
  });

  it('does the same from the command line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegle-cli-'));
    const configPath = join(dir, 'aegle.config.yaml');
    writeFileSync(
      configPath,
      [
        'sources:',
        '  - id: cli-ehr',
        `    fhirBaseUrl: ${ehr.baseUrl}`,
        '    inbound: { bearerToken: cli-inbound-token }',
        "    subscription: { criteria: ['Observation?code=http://loinc.org|2085-9'] }",
        'intake: { publicUrl: https://aegle.example.org }',
      ].join('\n'),
    );
    const cli = (...args: string[]) =>
      run(
        'node',
        [
          '-r',
          '@swc-node/register',
          'apps/engine/src/cli/main.ts',
          'subscriptions',
          ...args,
          '--source',
          'cli-ehr',
        ],
        {
          env: { ...process.env, AEGLE_CONFIG: configPath },
        },
      );
    expect((await cli('create')).stdout).toMatch(
      /Subscription\/\S+\s+requested\s+classic\s+Observation\?code=/,
    );
    expect((await cli('status')).stdout).toMatch(/requested/);
    expect((await cli('delete')).stdout).toMatch(/removed 1 subscription/);
    expect(await onEhr('cli-ehr')).toEqual([]);
  }, 60_000);
});
