// QR payload -> credential.  DIVOC's QR holds the raw bytes of a ZIP with one
// DEFLATE entry `certificate.json`; its Node path UTF-8-encoded bytes >= 0x80
// (a JS binary string handed to the QR encoder).  Plain JSON is accepted too.
// Mirrors certify/credentials/qr.py:unpack_qr_payload.
import {Inflate} from 'fflate';
import {concatBytes} from './crypto.js';

export const ZIP_ENTRY_NAME = 'certificate.json';
export const MAX_UNCOMPRESSED = 64 * 1024; // bytes of certificate JSON
export const MAX_ENTRIES = 4;
export const MAX_PAYLOAD = 16 * 1024; // a version-40 QR holds < 3 KiB

export class PayloadError extends Error {
  constructor(message) {
    super(message);
    this.code = 'unreadable_payload';
  }
}

const u16 = (b, o) => b[o] | (b[o + 1] << 8);
const u32 = (b, o) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;

function findEOCD(b) {
  const min = Math.max(0, b.length - 22 - 0xffff);
  for (let i = b.length - 22; i >= min; i--) {
    if (b[i] === 0x50 && b[i + 1] === 0x4b && b[i + 2] === 0x05 && b[i + 3] === 0x06) return i;
  }
  return -1;
}

/**
 * Inflate raw DEFLATE data, refusing more than `limit` bytes of output
 * (`what` names the data in messages).  Also used for EU DCCs and health cards.
 */
export function inflateCapped(data, limit, what = ZIP_ENTRY_NAME) {
  const chunks = [];
  let total = 0;
  let done = false;
  const inflater = new Inflate((chunk, final) => {
    total += chunk.length;
    if (total > limit) throw new PayloadError(`certificate is larger than ${limit} bytes uncompressed`);
    chunks.push(chunk);
    if (final) done = true;
  });
  // Feed small slices: DEFLATE expands at most ~1032:1, so one slice can
  // never produce more than ~260 KiB before the limit check runs.
  const STEP = 256;
  try {
    for (let i = 0; i < data.length; i += STEP) {
      inflater.push(data.subarray(i, Math.min(i + STEP, data.length)), i + STEP >= data.length);
    }
  } catch (err) {
    if (err instanceof PayloadError) throw err;
    throw new PayloadError(`cannot decompress ${what}: ${err.message || err}`);
  }
  if (!done) throw new PayloadError(`cannot decompress ${what}: truncated data`);
  return concatBytes(...chunks);
}

/** The bytes of `certificate.json` (or the only entry) in a ZIP archive. */
export function readZip(b) {
  const eocd = findEOCD(b);
  if (eocd < 0) throw new PayloadError('not a readable ZIP archive');
  const count = u16(b, eocd + 10);
  const cdOffset = u32(b, eocd + 16);
  if (count === 0) throw new PayloadError('ZIP archive is empty');
  if (count > MAX_ENTRIES) throw new PayloadError(`ZIP archive has ${count} entries (max ${MAX_ENTRIES})`);
  const decoder = new TextDecoder();
  const entries = [];
  let p = cdOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > b.length || u32(b, p) !== 0x02014b50) throw new PayloadError('ZIP central directory is damaged');
    const nameLen = u16(b, p + 28);
    const extraLen = u16(b, p + 30);
    const commentLen = u16(b, p + 32);
    entries.push({
      flags: u16(b, p + 8),
      method: u16(b, p + 10),
      compressedSize: u32(b, p + 20),
      size: u32(b, p + 24),
      localOffset: u32(b, p + 42),
      name: decoder.decode(b.subarray(p + 46, p + 46 + nameLen)),
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  let entry = entries.find((e) => e.name === ZIP_ENTRY_NAME);
  if (!entry) {
    if (entries.length !== 1) throw new PayloadError(`ZIP archive has no ${ZIP_ENTRY_NAME}`);
    entry = entries[0];
  }
  if (entry.flags & 1) throw new PayloadError('ZIP entry is encrypted');
  if (entry.method !== 0 && entry.method !== 8) throw new PayloadError(`unsupported ZIP compression method ${entry.method}`);
  if (entry.size > MAX_UNCOMPRESSED) {
    throw new PayloadError(`${entry.name} declares ${entry.size} bytes uncompressed (max ${MAX_UNCOMPRESSED})`);
  }
  const lh = entry.localOffset;
  if (lh + 30 > b.length || u32(b, lh) !== 0x04034b50) throw new PayloadError('ZIP local header is damaged');
  const start = lh + 30 + u16(b, lh + 26) + u16(b, lh + 28);
  const end = start + entry.compressedSize;
  if (end > b.length) throw new PayloadError('ZIP entry is truncated');
  const data = b.subarray(start, end);
  if (entry.method === 0) {
    if (data.length > MAX_UNCOMPRESSED) throw new PayloadError('certificate is too large');
    return data.slice();
  }
  // never trust the declared size
  return inflateCapped(data, MAX_UNCOMPRESSED);
}

function parseJSON(bytes) {
  let value;
  try {
    value = JSON.parse(new TextDecoder('utf-8', {fatal: true}).decode(bytes));
  } catch (err) {
    throw new PayloadError(`certificate is not valid UTF-8 JSON: ${err.message || err}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new PayloadError('certificate JSON is not an object');
  }
  return value;
}

/** Undo a binary string that was UTF-8 encoded: decode UTF-8, keep each code unit as a byte. */
function unmangle(raw) {
  let text;
  try {
    text = new TextDecoder('utf-8', {fatal: true}).decode(raw);
  } catch (_) {
    return null;
  }
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) return null;
    out[i] = c;
  }
  return out;
}

const sameBytes = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * The credential in a scanned QR payload (Uint8Array, ArrayBuffer or string).
 * Throws PayloadError with a specific message for anything else.
 */
export function unpack(data) {
  let raw;
  if (typeof data === 'string') {
    raw = /^[\x00-\xff]*$/.test(data)
      ? Uint8Array.from(data, (ch) => ch.charCodeAt(0))
      : new TextEncoder().encode(data);
  } else if (data instanceof Uint8Array) {
    raw = data;
  } else if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
    raw = new Uint8Array(data.buffer || data, data.byteOffset || 0, data.byteLength);
  } else {
    throw new PayloadError('payload must be bytes or text');
  }
  if (!raw.length) throw new PayloadError('payload is empty');
  if (raw.length > MAX_PAYLOAD) throw new PayloadError(`payload is ${raw.length} bytes (max ${MAX_PAYLOAD})`);

  if (raw[0] === 0x50 && raw[1] === 0x4b) { // "PK"
    try {
      return parseJSON(readZip(raw));
    } catch (rawError) {
      const fixed = unmangle(raw);
      if (!fixed || sameBytes(fixed, raw)) throw rawError;
      try {
        return parseJSON(readZip(fixed));
      } catch (err) {
        throw new PayloadError(`${rawError.message}; as UTF-8 mangled ZIP: ${err.message}`);
      }
    }
  }
  let i = 0;
  while (i < raw.length && (raw[i] === 0x20 || raw[i] === 0x09 || raw[i] === 0x0a || raw[i] === 0x0d)) i++;
  if (raw[i] === 0x7b) return parseJSON(raw.subarray(i)); // "{"
  throw new PayloadError('payload is neither a ZIP archive nor JSON');
}
