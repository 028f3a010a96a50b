import { randomBytes } from 'node:crypto';
import { Operator } from '@medplum/core';
import { exportJWK, exportPKCS8, generateKeyPair, jwtVerify, type CryptoKey, type JWTPayload } from 'jose';
import { startAegle, RunningAegle } from './support/aegle-app';
import { HookResponse, IncomingFhirRequest, startFhirServer, TestFhirServer } from './support/fhir-server';
import { json } from './support/http';
import { bloodPressurePanel, lab, NEVER_SMOKER, patient, smokingStatus } from './fixtures/patients';

const INBOUND = 'e2e-inbound-token';
const PCE_CODE = '79423-0';

/**
 * An authorization server in front of the test EHR: SMART discovery, a token endpoint that checks
 * client assertions (signature, iss, sub, aud, exp, jti never reused) or client secrets, and a FHIR
 * API that answers only to the tokens it issued.
 */
class TestAuthorizationServer {
  readonly tokenRequests: Array<{ clientId: string; scope?: string; assertion?: JWTPayload; kid?: string }> =
    [];
  private readonly issued = new Map<string, string>(); // token -> client id
  private readonly seenJti = new Set<string>();

  constructor(
    private readonly origin: string,
    private readonly smartClients: Map<string, { key: CryptoKey; alg: string }>,
    private readonly secretClients: Map<string, string>,
  ) {}

  get tokenEndpoint(): string {
    return `${this.origin}/auth/token`;
  }

  /** Forgets every token issued, as an EHR does when it rotates keys or a token is revoked. */
  revokeAll(): void {
    this.issued.clear();
  }

  readonly hook = async (req: IncomingFhirRequest): Promise<HookResponse | void> => {
    const path = req.path.split('?')[0];
    if (path === '/fhir/.well-known/smart-configuration') {
      return {
        status: 200,
        body: {
          token_endpoint: this.tokenEndpoint,
          token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic'],
          token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
          grant_types_supported: ['client_credentials'],
          capabilities: ['client-confidential-asymmetric'],
        },
      };
    }
    if (path === '/auth/token') return this.token(req);
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    if (!bearer || !this.issued.has(bearer)) {
      return {
        status: 401,
        headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
        body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] },
      };
    }
  };

  private async token(req: IncomingFhirRequest): Promise<HookResponse> {
    const form = new URLSearchParams(String(req.body ?? ''));
    const refuse = (error: string, description: string): HookResponse => ({
      status: error === 'invalid_client' ? 401 : 400,
      body: { error, error_description: description },
    });
    if (req.method !== 'POST') return refuse('invalid_request', 'POST only');
    if (form.get('grant_type') !== 'client_credentials')
      return refuse('unsupported_grant_type', 'client_credentials only');

    let clientId: string;
    let assertionClaims: JWTPayload | undefined;
    let kid: string | undefined;
    const assertion = form.get('client_assertion');
    if (assertion) {
      if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
        return refuse('invalid_request', 'wrong client_assertion_type');
      }
      const claimed = JSON.parse(Buffer.from(assertion.split('.')[1], 'base64url').toString()) as JWTPayload;
      const client = this.smartClients.get(String(claimed.iss));
      if (!client) return refuse('invalid_client', 'unknown client');
      try {
        const { payload, protectedHeader } = await jwtVerify(assertion, client.key, {
          issuer: claimed.iss,
          subject: claimed.iss,
          audience: this.tokenEndpoint,
          algorithms: [client.alg],
          typ: 'JWT',
        });
        if (protectedHeader.alg !== client.alg) return refuse('invalid_client', 'wrong algorithm');
        if (!payload.exp || payload.exp - Math.floor(Date.now() / 1000) > 300) {
          return refuse('invalid_client', 'exp must be at most five minutes ahead');
        }
        if (!payload.jti || this.seenJti.has(payload.jti)) return refuse('invalid_client', 'jti reused');
        this.seenJti.add(payload.jti);
        assertionClaims = payload;
        kid = protectedHeader.kid;
      } catch (error) {
        return refuse('invalid_client', (error as Error).message);
      }
      clientId = String(claimed.iss);
    } else {
      const basic = /^Basic (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
      const [id, secret] = Buffer.from(basic ?? '', 'base64')
        .toString()
        .split(':')
        .map(decodeURIComponent);
      if (!id || this.secretClients.get(id) !== secret) return refuse('invalid_client', 'bad client secret');
      clientId = id;
    }
    const token = randomBytes(16).toString('hex');
    this.issued.set(token, clientId);
    this.tokenRequests.push({
      clientId,
      scope: form.get('scope') ?? undefined,
      assertion: assertionClaims,
      kid,
    });
    return {
      status: 200,
      body: { access_token: token, token_type: 'bearer', expires_in: 3600, scope: form.get('scope') },
    };
  }
}

describe('outbound authentication to the EHR', () => {
  let ehr: TestFhirServer;
  let auth: TestAuthorizationServer;
  let aegle: RunningAegle;

  beforeAll(async () => {
    ehr = await startFhirServer();
    const rsa = await generateKeyPair('RS384', { extractable: true });
    const ec = await generateKeyPair('ES384', { extractable: true });
    auth = new TestAuthorizationServer(
      new URL(ehr.baseUrl).origin,
      new Map([
        ['aegle-rs', { key: rsa.publicKey, alg: 'RS384' }],
        ['aegle-es', { key: ec.publicKey, alg: 'ES384' }],
      ]),
      new Map([['aegle-cc', 'a-long-client-secret']]),
    );
    ehr.onRequest(auth.hook);
    const source = (id: string, outbound: Record<string, unknown>) => ({
      id,
      fhirBaseUrl: ehr.baseUrl,
      bearerToken: INBOUND,
      auth: outbound,
    });
    aegle = await startAegle({
      sources: [
        // RS384 with a PEM key; the token endpoint found through .well-known/smart-configuration.
        source('smart-rs', {
          type: 'smart-backend-services',
          clientId: 'aegle-rs',
          privateKey: await exportPKCS8(rsa.privateKey),
          algorithm: 'RS384',
          keyId: 'rs-1',
        }),
        // ES384 with a private JWK (as a config file would hold it, via ${ENV}).
        source('smart-es', {
          type: 'smart-backend-services',
          clientId: 'aegle-es',
          privateKey: JSON.stringify(await exportJWK(ec.privateKey)),
          algorithm: 'ES384',
          scope: 'system/Observation.crus system/Patient.rs',
        }),
        source('client-credentials', {
          type: 'oauth2-client-credentials',
          tokenUrl: auth.tokenEndpoint,
          clientId: 'aegle-cc',
          clientSecret: 'a-long-client-secret',
          scope: 'system/*.cruds',
        }),
      ],
    });
  }, 30_000);

  afterAll(async () => {
    await aegle?.close();
    await ehr?.close();
  });

  async function seedPatient(id: string): Promise<fhir4.Observation> {
    const [, tc] = await ehr.seed([
      patient(id, { gender: 'male', age: 60 }),
      lab(`${id}-tc`, id, '2093-3', 'Cholesterol', 200, 'mg/dL'),
      lab(`${id}-hdl`, id, '2085-9', 'HDL Cholesterol', 45, 'mg/dL'),
      bloodPressurePanel(`${id}-bp`, id, 130, 80),
      smokingStatus(`${id}-smk`, id, ...NEVER_SMOKER),
    ]);
    return tc as fhir4.Observation;
  }

  const notify = (source: string, body: unknown) =>
    fetch(`${aegle.url}/fhir/notify/${source}`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${INBOUND}` },
      body: JSON.stringify(body),
    });

  /** Reads the EHR directly, as the test (its store, no HTTP, no token needed). */
  async function riskObservations(patientId: string): Promise<fhir4.Observation[]> {
    const found = await ehr.repo.searchResources({
      resourceType: 'Observation',
      filters: [
        { code: 'subject', operator: Operator.EQUALS, value: `Patient/${patientId}` },
        { code: 'code', operator: Operator.EQUALS, value: `http://loinc.org|${PCE_CODE}` },
      ],
    });
    return found as unknown as fhir4.Observation[];
  }

  it('SMART Backend Services (RS384): discovers the token endpoint, signs a valid assertion, reads and writes', async () => {
    const before = auth.tokenRequests.length;
    expect((await notify('smart-rs', await seedPatient('auth-rs'))).status).toBe(200);
    await aegle.waitForIdle();

    expect(await riskObservations('auth-rs')).toHaveLength(1);
    const requests = auth.tokenRequests.slice(before);
    // One token for every read and write of the run: it is cached.
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      clientId: 'aegle-rs',
      scope: 'system/*.rs system/Observation.cu system/Device.c system/Provenance.c',
      assertion: { iss: 'aegle-rs', sub: 'aegle-rs', aud: auth.tokenEndpoint },
      kid: 'rs-1',
    });
    const unauthorised = ehr.requests.filter((r) => r.path.startsWith('/fhir/') && r.status === 401);
    expect(unauthorised).toHaveLength(0);
    const fhirCalls = ehr.requests.filter((r) => /^\/fhir\/(Observation|Patient|Device|$)/.test(r.path));
    // At least the inputs' batch and the result's transaction, all on that one token.
    expect(fhirCalls.length).toBeGreaterThanOrEqual(2);
  });

  it('gets a fresh token on a 401 and carries on', async () => {
    const tc = await seedPatient('auth-refresh');
    auth.revokeAll();
    const before = auth.tokenRequests.length;
    const requestsBefore = ehr.requests.length;
    expect((await notify('smart-rs', tc)).status).toBe(200);
    await aegle.waitForIdle();
    expect(await riskObservations('auth-refresh')).toHaveLength(1);
    expect(auth.tokenRequests.slice(before).map((r) => r.clientId)).toEqual(['aegle-rs']);
    // The revoked token was refused once, then the renewed one used from there on.
    const sent = ehr.requests.slice(requestsBefore).filter(
      (r) =>
        r.path.startsWith('/fhir/Observation') ||
        r.path.startsWith('/fhir/Patient') ||
        r.path.startsWith('/fhir/Condition') ||
        r.path.startsWith('/fhir/Medication') ||
        r.path.startsWith('/fhir/metadata') ||
        /^\/fhir\/?$/.test(r.path), // transactions and batches
    );
    const refused = sent.filter((r) => r.status === 401);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    const revoked = new Set(refused.map((r) => r.headers.authorization));
    expect(revoked.size).toBe(1);
    // Every request refused with the revoked token went again, with the new one, and succeeded.
    expect(sent.filter((r) => r.status !== 401).every((r) => !revoked.has(r.headers.authorization))).toBe(
      true,
    );
  });

  it('SMART Backend Services (ES384) with a JWK private key', async () => {
    const before = auth.tokenRequests.length;
    expect((await notify('smart-es', await seedPatient('auth-es'))).status).toBe(200);
    await aegle.waitForIdle();
    expect(await riskObservations('auth-es')).toHaveLength(1);
    expect(auth.tokenRequests.slice(before)).toEqual([
      expect.objectContaining({ clientId: 'aegle-es', scope: 'system/Observation.crus system/Patient.rs' }),
    ]);
  });

  it('OAuth2 client credentials with a client secret', async () => {
    const before = auth.tokenRequests.length;
    expect((await notify('client-credentials', await seedPatient('auth-cc'))).status).toBe(200);
    await aegle.waitForIdle();
    expect(await riskObservations('auth-cc')).toHaveLength(1);
    expect(auth.tokenRequests.slice(before)).toEqual([
      expect.objectContaining({ clientId: 'aegle-cc', scope: 'system/*.cruds' }),
    ]);
  });

  it('never reuses a client assertion (each token request has its own jti)', () => {
    const jtis = auth.tokenRequests.flatMap((r) => (r.assertion?.jti ? [r.assertion.jti] : []));
    expect(jtis.length).toBeGreaterThanOrEqual(3);
    expect(new Set(jtis).size).toBe(jtis.length);
  });

  it('refuses a request without a token (the EHR really checks)', async () => {
    const response = await fetch(`${ehr.baseUrl}/Patient/auth-rs`);
    expect(response.status).toBe(401);
    expect((await json<fhir4.OperationOutcome>(response)).resourceType).toBe('OperationOutcome');
  });
});
