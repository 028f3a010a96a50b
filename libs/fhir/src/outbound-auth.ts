import { randomUUID } from 'node:crypto';
import { importJWK, importPKCS8, SignJWT, type CryptoKey, type JWK } from 'jose';
import { OutboundAuth, Secret } from '@aegle/config';

/** Supplies the Authorization header for requests to one EHR source. */
export interface AccessTokenProvider {
  /** The header value to send, or undefined when the source needs none. */
  authorization(): Promise<string | undefined>;
  /**
   * Forgets a token the EHR refused (HTTP 401), so the next call fetches a fresh one. Only that
   * token: concurrent requests refused with it must not discard the fresh one another just fetched.
   */
  invalidate(refused: string | undefined): void;
  /** True when a refused token is worth one fresh try (a static token is not). */
  readonly refreshable: boolean;
}

/** A token endpoint refused Aegle or answered something unusable. */
export class TokenRequestError extends Error {
  constructor(
    message: string,
    /** HTTP status of the token endpoint; undefined for network errors. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'TokenRequestError';
  }
}

/** A cached token is renewed this long before it expires, so no request carries a dying one. */
const EXPIRY_MARGIN_MS = 60_000;
/** SMART Backend Services caps the client assertion's lifetime at five minutes. */
const ASSERTION_LIFETIME_S = 300;

export function accessTokenProvider(
  auth: OutboundAuth,
  fhirBaseUrl: string,
  timeoutMs: number,
): AccessTokenProvider {
  switch (auth.type) {
    case 'none':
      return { authorization: async () => undefined, invalidate: () => undefined, refreshable: false };
    case 'bearer':
      return {
        authorization: async () => `Bearer ${auth.token.reveal()}`,
        invalidate: () => undefined,
        refreshable: false,
      };
    case 'oauth2-client-credentials':
      return new ClientCredentialsTokens(timeoutMs, async () => ({
        url: auth.tokenUrl,
        headers: {
          authorization: `Basic ${Buffer.from(
            `${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret.reveal())}`,
          ).toString('base64')}`,
        },
        form: { grant_type: 'client_credentials', ...(auth.scope ? { scope: auth.scope } : {}) },
      }));
    case 'smart-backend-services': {
      const smart = new SmartBackendServices(auth, fhirBaseUrl, timeoutMs);
      return new ClientCredentialsTokens(timeoutMs, () => smart.tokenRequest());
    }
  }
}

interface TokenRequest {
  url: string;
  headers?: Record<string, string>;
  form: Record<string, string>;
}

/**
 * OAuth 2.0 client-credentials tokens, cached until shortly before they expire. Concurrent callers
 * share one request to the token endpoint.
 */
class ClientCredentialsTokens implements AccessTokenProvider {
  readonly refreshable = true;
  private cached?: { token: string; renewAt: number };
  private pending?: Promise<string>;

  constructor(
    private readonly timeoutMs: number,
    private readonly request: () => Promise<TokenRequest>,
  ) {}

  async authorization(): Promise<string> {
    if (this.cached && Date.now() < this.cached.renewAt) return `Bearer ${this.cached.token}`;
    this.pending ??= this.fetchToken().finally(() => (this.pending = undefined));
    return `Bearer ${await this.pending}`;
  }

  invalidate(refused: string | undefined): void {
    if (this.cached && refused === `Bearer ${this.cached.token}`) this.cached = undefined;
  }

  private async fetchToken(): Promise<string> {
    const { url, headers, form } = await this.request();
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          ...headers,
        },
        body: new URLSearchParams(form).toString(),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new TokenRequestError(`token request to ${url} failed: ${(error as Error).message}`);
    }
    const body = (await response.json().catch(() => ({}))) as {
      access_token?: unknown;
      expires_in?: unknown;
      error?: unknown;
      error_description?: unknown;
    };
    if (!response.ok || typeof body.access_token !== 'string') {
      const reason = [body.error, body.error_description].filter((v) => typeof v === 'string').join(': ');
      throw new TokenRequestError(
        `token endpoint ${url} answered HTTP ${response.status}${reason ? ` (${reason})` : ''}`,
        response.status,
      );
    }
    const lifetimeMs = (typeof body.expires_in === 'number' ? body.expires_in : 300) * 1000;
    // Short-lived tokens are renewed at half-life rather than a minute before they expire.
    const margin = Math.min(EXPIRY_MARGIN_MS, lifetimeMs / 2);
    this.cached = { token: body.access_token, renewAt: Date.now() + lifetimeMs - margin };
    return body.access_token;
  }
}

type SmartAuth = Extract<OutboundAuth, { type: 'smart-backend-services' }>;

/** SMART Backend Services (asymmetric client authentication, SMART App Launch 2.x). */
class SmartBackendServices {
  private key?: Promise<CryptoKey | Uint8Array>;
  private tokenUrl?: Promise<string>;

  constructor(
    private readonly auth: SmartAuth,
    private readonly fhirBaseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  async tokenRequest(): Promise<TokenRequest> {
    const url = await (this.tokenUrl ??= this.discoverTokenUrl().catch((error: unknown) => {
      this.tokenUrl = undefined; // try discovery again next time
      throw error;
    }));
    const key = await (this.key ??= importPrivateKey(this.auth.privateKey, this.auth.algorithm));
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({
        alg: this.auth.algorithm,
        typ: 'JWT',
        ...(this.auth.keyId ? { kid: this.auth.keyId } : {}),
      })
      .setIssuer(this.auth.clientId)
      .setSubject(this.auth.clientId)
      .setAudience(url)
      .setIssuedAt(now)
      .setExpirationTime(now + ASSERTION_LIFETIME_S)
      .setJti(randomUUID())
      .sign(key);
    return {
      url,
      form: {
        grant_type: 'client_credentials',
        scope: this.auth.scope,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      },
    };
  }

  private async discoverTokenUrl(): Promise<string> {
    if (this.auth.tokenUrl) return this.auth.tokenUrl;
    const url = `${this.fhirBaseUrl}/.well-known/smart-configuration`;
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new TokenRequestError(`SMART discovery at ${url} failed: ${(error as Error).message}`);
    }
    const body = (await response.json().catch(() => ({}))) as { token_endpoint?: unknown };
    if (!response.ok || typeof body.token_endpoint !== 'string') {
      throw new TokenRequestError(
        `SMART discovery at ${url} answered HTTP ${response.status} without a token_endpoint`,
        response.status,
      );
    }
    return body.token_endpoint;
  }
}

/** A PEM PKCS#8 private key or a private JWK (JSON), for the configured algorithm. */
async function importPrivateKey(key: Secret, algorithm: string): Promise<CryptoKey | Uint8Array> {
  const text = key.reveal().trim();
  try {
    if (text.startsWith('{')) return await importJWK(JSON.parse(text) as JWK, algorithm);
    return await importPKCS8(text, algorithm);
  } catch (error) {
    // Never echo the key itself.
    throw new TokenRequestError(
      `the SMART private key cannot be used for ${algorithm}: ${(error as Error).message}`,
    );
  }
}
