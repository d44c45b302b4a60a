// A small CBOR (RFC 8949) decoder for EU DCCs: COSE_Sign1, CWT claims and the
// DCC itself, with limits (depth, items, lengths) so hostile input cannot make
// it loop or allocate much.  Maps decode to Map (CWT keys are integers), tags
// to Tagged; toJSON() turns a decoded DCC into plain JSON the way
// certify/credentials/eudcc.py:cbor_to_json does.  encodeSigStructure() writes
// the COSE Sig_structure a signature covers.

import {concatBytes} from './crypto.js';

export class CborError extends Error {}

export class Tagged {
  constructor(tag, value) {
    this.tag = tag;
    this.value = value;
  }
}

const MAX_DEPTH = 64;
const MAX_ITEMS = 100000;
const utf8 = new TextDecoder('utf-8', {fatal: true});

/** Decode the first CBOR item in `bytes` (a Uint8Array); like cbor2.loads, trailing bytes are ignored. */
export function decode(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  let items = 0;

  const need = (n) => {
    if (n > bytes.length - pos) throw new CborError('truncated CBOR data');
  };

  function length(info) {
    if (info < 24) return info;
    if (info === 24) { need(1); return bytes[pos++]; }
    if (info === 25) { need(2); const v = view.getUint16(pos); pos += 2; return v; }
    if (info === 26) { need(4); const v = view.getUint32(pos); pos += 4; return v; }
    if (info === 27) {
      need(8);
      const hi = view.getUint32(pos);
      const lo = view.getUint32(pos + 4);
      pos += 8;
      if (hi > 0x1fffff) throw new CborError('CBOR integer too large');
      return hi * 0x100000000 + lo;
    }
    if (info === 31) return -1; // indefinite
    throw new CborError(`reserved CBOR additional information ${info}`);
  }

  function chunks(major, len, depth) {
    if (len >= 0) {
      need(len);
      const out = bytes.subarray(pos, pos + len);
      pos += len;
      return out;
    }
    const parts = [];
    for (;;) {
      need(1);
      if (bytes[pos] === 0xff) { pos++; break; }
      const head = bytes[pos++];
      if (head >> 5 !== major) throw new CborError('bad chunk in an indefinite-length string');
      const n = length(head & 31);
      if (n < 0) throw new CborError('nested indefinite-length string');
      parts.push(chunks(major, n, depth));
    }
    return concatBytes(...parts);
  }

  function half(h) {
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    const v = exp === 0 ? mant * 2 ** -24 : exp === 31 ? (mant ? NaN : Infinity) : (mant + 1024) * 2 ** (exp - 25);
    return h & 0x8000 ? -v : v;
  }

  function item(depth) {
    if (depth > MAX_DEPTH) throw new CborError('CBOR nested too deeply');
    if (++items > MAX_ITEMS) throw new CborError('too many CBOR items');
    need(1);
    const head = bytes[pos++];
    const major = head >> 5;
    const info = head & 31;
    switch (major) {
      case 0: {
        const n = length(info);
        if (n < 0) throw new CborError('indefinite-length integer');
        return n;
      }
      case 1: {
        const n = length(info);
        if (n < 0) throw new CborError('indefinite-length integer');
        return -1 - n;
      }
      case 2:
        return chunks(2, length(info), depth).slice();
      case 3:
        try {
          return utf8.decode(chunks(3, length(info), depth));
        } catch (err) {
          if (err instanceof CborError) throw err;
          throw new CborError('CBOR text is not UTF-8');
        }
      case 4: {
        const n = length(info);
        const out = [];
        if (n >= 0) {
          if (n > bytes.length - pos) throw new CborError('truncated CBOR array');
          for (let i = 0; i < n; i++) out.push(item(depth + 1));
        } else {
          for (;;) {
            need(1);
            if (bytes[pos] === 0xff) { pos++; break; }
            out.push(item(depth + 1));
          }
        }
        return out;
      }
      case 5: {
        const n = length(info);
        const out = new Map();
        const entry = () => {
          const key = item(depth + 1);
          if (key !== null && typeof key === 'object') throw new CborError('unsupported CBOR map key');
          out.set(key, item(depth + 1));
        };
        if (n >= 0) {
          if (n * 2 > bytes.length - pos) throw new CborError('truncated CBOR map');
          for (let i = 0; i < n; i++) entry();
        } else {
          for (;;) {
            need(1);
            if (bytes[pos] === 0xff) { pos++; break; }
            entry();
          }
        }
        return out;
      }
      case 6: {
        const tag = length(info);
        if (tag < 0) throw new CborError('indefinite-length tag');
        return new Tagged(tag, item(depth + 1));
      }
      default: // 7
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        if (info === 23) return undefined;
        if (info === 25) { need(2); const v = half(view.getUint16(pos)); pos += 2; return v; }
        if (info === 26) { need(4); const v = view.getFloat32(pos); pos += 4; return v; }
        if (info === 27) { need(8); const v = view.getFloat64(pos); pos += 8; return v; }
        if (info === 24) { need(1); pos++; return undefined; } // simple value: not used by DCCs
        if (info < 20) return undefined;
        throw new CborError(`unexpected CBOR break or reserved value ${info}`);
    }
  }

  return item(0);
}

const pad = (n) => String(n).padStart(2, '0');

function isoSeconds(ms) {
  const d = new Date(ms);
  if (!Number.isFinite(d.getTime())) return String(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}Z`;
}

/** Decoded CBOR as JSON: string keys, date tags as ISO text, byte strings as hex. */
export function toJSON(value) {
  if (value instanceof Map) {
    const out = {};
    for (const [k, v] of value) out[String(k)] = toJSON(v);
    return out;
  }
  if (Array.isArray(value)) return value.map(toJSON);
  if (value instanceof Tagged) {
    if (value.tag === 0 && typeof value.value === 'string') {
      const t = Date.parse(value.value);
      return Number.isFinite(t) ? isoSeconds(t) : value.value;
    }
    if (value.tag === 1 && typeof value.value === 'number') return isoSeconds(value.value * 1000);
    return toJSON(value.value);
  }
  if (value instanceof Uint8Array) return Array.from(value, (b) => b.toString(16).padStart(2, '0')).join('');
  return value;
}

function head(major, n) {
  if (n < 24) return [(major << 5) | n];
  if (n < 0x100) return [(major << 5) | 24, n];
  if (n < 0x10000) return [(major << 5) | 25, n >> 8, n & 0xff];
  return [(major << 5) | 26, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

/** CBOR of ["Signature1", protected, external_aad (empty), payload]: the bytes a COSE_Sign1 signs. */
export function encodeSigStructure(protectedBytes, payload) {
  const context = new TextEncoder().encode('Signature1');
  return concatBytes(
    Uint8Array.from(head(4, 4)), Uint8Array.from(head(3, context.length)), context,
    Uint8Array.from(head(2, protectedBytes.length)), protectedBytes,
    Uint8Array.from(head(2, 0)),
    Uint8Array.from(head(2, payload.length)), payload);
}
