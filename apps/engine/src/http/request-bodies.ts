import { BadRequestException, PayloadTooLargeException, UnsupportedMediaTypeException } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/** The admin API takes small JSON bodies only. */
const ADMIN_MAX_BODY_BYTES = 1024 * 1024;

/** Set on an intake request whose body was refused before reaching the route (see bodyRefusalOf). */
const BODY_REFUSED = Symbol('aegle.bodyRefused');

export interface BodyRefusal {
  status: 413 | 415 | 400;
  message: string;
}

/** Content encodings a sender may compress a body with (read decompressed, as Express did). */
const DECODERS: Record<string, (() => Readable & NodeJS.WritableStream) | undefined> = {
  identity: undefined,
  gzip: createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/** Why the intake route got an empty body instead of the one sent, if it did. */
export function bodyRefusalOf(request: object): BodyRefusal | undefined {
  return (request as { [BODY_REFUSED]?: BodyRefusal })[BODY_REFUSED];
}

/**
 * How request bodies are read, whatever their media type. Intake bodies (`/fhir/…`) stay raw
 * bytes: the HMAC is over the exact bytes, and the intake itself decides what a media type means
 * (415, 400 and 422 are OperationOutcomes it records). A body over the limit is not answered here
 * but handed on empty, marked, so the intake refuses it (413) and records it like any other refusal.
 * Admin API bodies are JSON, parsed here.
 */
export function registerBodyParsers(fastify: FastifyInstance, maxIntakeBodyBytes: number): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (request: FastifyRequest, payload: IncomingMessage, done) => {
    const intake = request.url.startsWith('/fhir/');
    readBody(payload, intake ? maxIntakeBodyBytes : ADMIN_MAX_BODY_BYTES).then(
      (bytes) => {
        if (intake) return done(null, bytes);
        try {
          done(null, adminBody(bytes, request.headers['content-type']));
        } catch {
          done(new BadRequestException('the body is not valid JSON'), undefined);
        }
      },
      (error: BodyRefusal) => {
        if (!intake) {
          const refusal =
            error.status === 413
              ? new PayloadTooLargeException(error.message)
              : error.status === 415
                ? new UnsupportedMediaTypeException(error.message)
                : new BadRequestException(error.message);
          return done(refusal, undefined);
        }
        (request as { [BODY_REFUSED]?: BodyRefusal })[BODY_REFUSED] = error;
        done(null, Buffer.alloc(0));
      },
    );
  });
}

function adminBody(bytes: Buffer, contentType: string | undefined): unknown {
  if (bytes.length === 0) return undefined;
  const type = contentType?.split(';')[0].trim().toLowerCase() ?? '';
  return type === 'application/json' || type.endsWith('+json')
    ? JSON.parse(bytes.toString('utf8'))
    : undefined;
}

/**
 * Reads the whole body (decompressed when it was sent compressed), refusing one larger than
 * `limit` without holding more than that.
 */
function readBody(payload: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge: BodyRefusal = { status: 413, message: `the body is larger than ${limit} bytes` };
  const encoding = (payload.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (!(encoding in DECODERS)) {
    payload.resume(); // discarded, so the connection stays usable for the answer
    return Promise.reject({
      status: 415,
      message: `content encoding "${encoding.slice(0, 40)}" is not supported`,
    });
  }
  const decoder = DECODERS[encoding];
  if (!decoder && Number(payload.headers['content-length']) > limit) {
    payload.resume();
    return Promise.reject(tooLarge);
  }
  const body: Readable = decoder ? payload.pipe(decoder()) : payload;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      body.off('data', onData);
      if (decoder) payload.unpipe();
      payload.resume();
      reject(tooLarge);
    };
    body.on('data', onData);
    body.once('end', () => resolve(Buffer.concat(chunks, size)));
    const fail = (error: Error) => reject({ status: 400, message: error.message } satisfies BodyRefusal);
    body.once('error', fail);
    if (decoder) payload.once('error', fail);
  });
}
