import { randomUUID } from 'node:crypto';
import { EXPLICIT_VR_LITTLE_ENDIAN } from './dicom-file';
import { ImageRefusal, ImageSourceUnavailable } from './image-refusal';
import { multipartBody, multipartParts } from './multipart';

export interface DicomWebOptions {
  /** The Authorization header to send, if the PACS needs one (the source's outbound auth). */
  authorization?: () => Promise<string | undefined>;
  timeoutMs: number;
  /** Largest answer read, in bytes; a larger instance is refused, not read. */
  maxBytes: number;
}

/** One instance of a study, as QIDO-RS lists it. */
export interface InstanceSummary {
  seriesInstanceUid: string;
  sopInstanceUid: string;
  modality?: string;
  instanceNumber?: number;
}

/**
 * A DICOMweb client for one PACS base URL: WADO-RS retrieve, QIDO-RS search, STOW-RS store. Network
 * failures, timeouts, 5xx and 429 are {@link ImageSourceUnavailable} (retried later); a missing
 * instance or an answer Aegle cannot use is an {@link ImageRefusal}.
 */
export class DicomWebClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly options: DicomWebOptions,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  /** One instance as a DICOM Part 10 file, asked for uncompressed (the PACS transcodes if it can). */
  async retrieveInstance(study: string, series: string, instance: string): Promise<Uint8Array> {
    const path = `/studies/${enc(study)}/series/${enc(series)}/instances/${enc(instance)}`;
    const response = await this.request(path, {
      accept: `multipart/related; type="application/dicom"; transfer-syntax=${EXPLICIT_VR_LITTLE_ENDIAN}`,
    });
    if (response.status === 406) {
      throw new ImageRefusal(
        'the PACS cannot send the instance uncompressed (406 Not Acceptable): its transfer syntax is not supported',
      );
    }
    const body = await this.body(response, `instance ${instance}`);
    const parts = multipartParts(body, response.headers.get('content-type') ?? '');
    if (parts.length === 0) throw new ImageRefusal('the PACS answered no DICOM part for the instance');
    return parts[0];
  }

  /** The instances of a study (QIDO-RS), for studies notified without their series. */
  async searchInstances(study: string): Promise<InstanceSummary[]> {
    const response = await this.request(`/studies/${enc(study)}/instances`, {
      accept: 'application/dicom+json',
    });
    if (response.status === 204) return [];
    const json = JSON.parse(
      Buffer.from(await this.body(response, `study ${study}`)).toString('utf8'),
    ) as Array<Record<string, { Value?: unknown[] }>>;
    return json.flatMap((item) => {
      const value = (tag: string) => item[tag]?.Value?.[0];
      const series = value('0020000E');
      const sop = value('00080018');
      if (typeof series !== 'string' || typeof sop !== 'string') return [];
      const modality = value('00080060');
      const number = Number(value('00200013'));
      return [
        {
          seriesInstanceUid: series,
          sopInstanceUid: sop,
          ...(typeof modality === 'string' ? { modality } : {}),
          ...(Number.isFinite(number) ? { instanceNumber: number } : {}),
        },
      ];
    });
  }

  /** Stores DICOM files (STOW-RS). */
  async store(files: Uint8Array[]): Promise<void> {
    const boundary = randomUUID();
    const response = await this.request('/studies', {
      method: 'POST',
      accept: 'application/dicom+json',
      contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`,
      body: multipartBody(files, boundary),
    });
    await this.body(response, 'the store');
  }

  private async request(
    path: string,
    init: { accept: string; method?: string; contentType?: string; body?: Buffer },
  ): Promise<Response> {
    const authorization = await this.options.authorization?.();
    try {
      return await fetch(`${this.base}${path}`, {
        method: init.method ?? 'GET',
        headers: {
          accept: init.accept,
          ...(init.contentType ? { 'content-type': init.contentType } : {}),
          ...(authorization ? { authorization } : {}),
        },
        ...(init.body ? { body: init.body } : {}),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      throw new ImageSourceUnavailable(`the PACS did not answer (${cause})`);
    }
  }

  /** The answer's bytes, read up to the size limit; what went wrong otherwise. */
  private async body(response: Response, what: string): Promise<Uint8Array> {
    if (response.status === 429 || response.status >= 500) {
      await response.body?.cancel();
      throw new ImageSourceUnavailable(`the PACS answered ${response.status} for ${what}`, response.status);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new ImageRefusal(`the PACS answered ${response.status} for ${what}`);
    }
    const declared = Number(response.headers.get('content-length'));
    if (declared > this.options.maxBytes) {
      await response.body?.cancel();
      throw new ImageRefusal(`${what} is too large: ${declared} bytes, more than ${this.options.maxBytes}`);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      for await (const chunk of response.body ?? []) {
        total += chunk.byteLength;
        if (total > this.options.maxBytes) {
          await response.body?.cancel();
          throw new ImageRefusal(`${what} is too large: more than ${this.options.maxBytes} bytes`);
        }
        chunks.push(chunk);
      }
    } catch (error) {
      if (error instanceof ImageRefusal) throw error;
      throw new ImageSourceUnavailable(`the PACS broke off ${what} (${(error as Error).name})`);
    }
    return Buffer.concat(chunks);
  }
}

function enc(uid: string): string {
  return encodeURIComponent(uid);
}
