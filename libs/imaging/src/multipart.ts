/**
 * The parts of a `multipart/related` body (RFC 2387), as WADO-RS answers: each part's bytes
 * without its headers.
 */
export function multipartParts(body: Uint8Array, contentType: string): Uint8Array[] {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) throw new Error('the multipart answer names no boundary');
  const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Uint8Array[] = [];
  let at = buffer.indexOf(delimiter);
  while (at !== -1) {
    const afterDelimiter = at + delimiter.length;
    if (buffer.subarray(afterDelimiter, afterDelimiter + 2).toString() === '--') break;
    const headersEnd = buffer.indexOf('\r\n\r\n', afterDelimiter);
    if (headersEnd === -1) break;
    const next = buffer.indexOf(delimiter, headersEnd + 4);
    if (next === -1) break;
    // The CRLF before the next delimiter belongs to the delimiter.
    const end = buffer[next - 2] === 0x0d && buffer[next - 1] === 0x0a ? next - 2 : next;
    parts.push(new Uint8Array(buffer.subarray(headersEnd + 4, end)));
    at = next;
  }
  return parts;
}

/** A `multipart/related` body of DICOM files, as STOW-RS takes it. */
export function multipartBody(files: Uint8Array[], boundary: string): Buffer {
  const chunks: Buffer[] = [];
  for (const file of files) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), Buffer.from(file));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}
