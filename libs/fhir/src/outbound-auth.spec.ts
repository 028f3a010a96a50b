import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { loadConfig } from '@aegle/config';
import { accessTokenProvider, TokenRequestError } from './outbound-auth';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/** A real token endpoint on 127.0.0.1 whose answers each test decides. */
async function tokenServer(
  handler: Handler,
): Promise<{ url: string; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      hits++;
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits: () => hits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const reply = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

function authOf(auth: Record<string, unknown>, fhirBaseUrl = 'http://127.0.0.1:1/fhir') {
  const [source] = loadConfig(
    {},
    { sources: [{ id: 'ehr', fhirBaseUrl, inbound: { bearerToken: 'inbound-token' }, auth }] },
  ).sources;
  return accessTokenProvider(source.auth, source.fhirBaseUrl, 2_000);
}

describe('outbound access tokens', () => {
  it('sends a static bearer and never asks for another', async () => {
    const tokens = authOf({ type: 'bearer', token: 'static-token-1' });
    expect(await tokens.authorization()).toBe('Bearer static-token-1');
    expect(tokens.refreshable).toBe(false);
  });

  it('caches a client-credentials token, shares one request among concurrent callers', async () => {
    let issued = 0;
    const server = await tokenServer((req, body, res) => {
      expect(req.headers.authorization).toBe(
        `Basic ${Buffer.from('aegle:secret-123456').toString('base64')}`,
      );
      expect(new URLSearchParams(body).get('grant_type')).toBe('client_credentials');
      reply(res, 200, { access_token: `t${++issued}`, expires_in: 3600 });
    });
    try {
      const tokens = authOf({
        type: 'oauth2-client-credentials',
        tokenUrl: `${server.url}/token`,
        clientId: 'aegle',
        clientSecret: 'secret-123456',
      });
      const all = await Promise.all(Array.from({ length: 5 }, () => tokens.authorization()));
      expect(new Set(all)).toEqual(new Set(['Bearer t1']));
      expect(server.hits()).toBe(1);

      // A refusal of an older token does not discard the current one...
      tokens.invalidate('Bearer t0');
      expect(await tokens.authorization()).toBe('Bearer t1');
      // ...a refusal of the current one does.
      tokens.invalidate('Bearer t1');
      expect(await tokens.authorization()).toBe('Bearer t2');
      expect(server.hits()).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('renews a token that is about to expire (here: one that lives no longer than the margin)', async () => {
    let issued = 0;
    const server = await tokenServer((_req, _body, res) =>
      reply(res, 200, { access_token: `t${++issued}`, expires_in: 0 }),
    );
    try {
      const tokens = authOf({
        type: 'oauth2-client-credentials',
        tokenUrl: `${server.url}/token`,
        clientId: 'aegle',
        clientSecret: 'secret-123456',
      });
      expect(await tokens.authorization()).toBe('Bearer t1');
      expect(await tokens.authorization()).toBe('Bearer t2');
    } finally {
      await server.close();
    }
  });

  it('says what the token endpoint answered, with its status, when it refuses', async () => {
    const server = await tokenServer((_req, _body, res) =>
      reply(res, 401, { error: 'invalid_client', error_description: 'unknown client' }),
    );
    try {
      const tokens = authOf({
        type: 'oauth2-client-credentials',
        tokenUrl: `${server.url}/token`,
        clientId: 'aegle',
        clientSecret: 'secret-123456',
      });
      const error = await tokens.authorization().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TokenRequestError);
      expect(error).toMatchObject({
        status: 401,
        message: expect.stringMatching(/invalid_client: unknown client/),
      });
    } finally {
      await server.close();
    }
  });

  it('fails SMART discovery clearly when the EHR publishes no token endpoint', async () => {
    const server = await tokenServer((_req, _body, res) => reply(res, 404, {}));
    try {
      const tokens = authOf(
        { type: 'smart-backend-services', clientId: 'aegle', privateKey: 'unused' },
        `${server.url}/fhir`,
      );
      await expect(tokens.authorization()).rejects.toThrow(
        /smart-configuration answered HTTP 404 without a token_endpoint/,
      );
    } finally {
      await server.close();
    }
  });

  it('refuses an unusable private key without ever printing it', async () => {
    const tokens = authOf({
      type: 'smart-backend-services',
      clientId: 'aegle',
      privateKey: '-----BEGIN PRIVATE KEY-----\nTOP-SECRET-MATERIAL\n-----END PRIVATE KEY-----',
      tokenUrl: 'http://127.0.0.1:1/token',
    });
    const error = (await tokens.authorization().catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(TokenRequestError);
    expect(error.message).toMatch(/private key cannot be used for RS384/);
    expect(error.message).not.toContain('TOP-SECRET-MATERIAL');
  });
});
