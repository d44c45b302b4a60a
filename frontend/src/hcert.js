// EU Digital COVID Certificates (HC1:) in the browser: prefix, Base45, zlib,
// COSE_Sign1 (ES256 or PS256, WebCrypto), CWT claims and the DCC; the same
// checks, in the same order, as certify/credentials/eudcc.py:verify_hc1
// (a test runs both over the 577 member-state vectors).  Trusted DSCs come
// from the trust document (`euDscs`: kid, SPKI, validity, allowed DCC types,
// and whether the DSC is ours); for one of ours the UVCI names our certificate,
// which the revocation list is checked for.
import {decode, encodeSigStructure, toJSON, Tagged, CborError} from './cbor.js';
import {inflateCapped, PayloadError} from './unpack.js';
import {withRevocation} from './revocation.js';
import {Invalid, invalid, isObject, reason, subtleCrypto, text} from './result.js';

export const HC1_PREFIX = 'HC1:';
const MAX_TEXT = 8 * 1024;
const MAX_COSE = 64 * 1024;
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
const UVCI_CHARSET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:';
const ES256 = -7;
const PS256 = -37;
const KINDS = {v: 'vaccination', t: 'test', r: 'recovery'};
const FORMAT = 'eu-dcc';

class HC1Error extends Error {
  constructor(stage, message) {
    super(`${stage}: ${message}`);
    this.stage = stage;
    this.reason = message;
  }
}

export function b45decode(value) {
  if (value.length % 3 === 1) throw new HC1Error('base45', `a Base45 text cannot be ${value.length} characters long`);
  const out = [];
  for (let i = 0; i < value.length; i += 3) {
    const group = value.slice(i, i + 3);
    let n = 0;
    for (let k = group.length - 1; k >= 0; k--) {
      const v = ALPHABET.indexOf(group[k]);
      if (v < 0) throw new HC1Error('base45', `'${group[k]}' is not a Base45 character`);
      n = n * 45 + v;
    }
    if (group.length === 3) {
      if (n > 0xffff) throw new HC1Error('base45', `group '${group}' is larger than two bytes`);
      out.push(n >> 8, n & 0xff);
    } else {
      if (n > 0xff) throw new HC1Error('base45', `group '${group}' is larger than one byte`);
      out.push(n);
    }
  }
  return Uint8Array.from(out);
}

function adler32(data) {
  let a = 1;
  let b = 0;
  for (let i = 0; i < data.length; i++) {
    a = (a + data[i]) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function decompress(data) {
  if (data.length < 2 || (data[0] & 0x0f) !== 8 || (data[0] >> 4) > 7 || ((data[0] << 8) | data[1]) % 31 !== 0 ||
      (data[1] & 0x20)) {
    throw new HC1Error('zlib', 'not zlib data: incorrect header check');
  }
  if (data.length < 6) throw new HC1Error('zlib', 'the compressed data is truncated');
  let out;
  try {
    out = inflateCapped(data.subarray(2, data.length - 4), MAX_COSE, 'the EU certificate');
  } catch (err) {
    if (err instanceof PayloadError && /larger than/.test(err.message)) {
      throw new HC1Error('zlib', `inflates to more than ${MAX_COSE} bytes`);
    }
    throw new HC1Error('zlib', `not zlib data: ${err.message}`);
  }
  const t = data.length - 4;
  const check = ((data[t] << 24) | (data[t + 1] << 16) | (data[t + 2] << 8) | data[t + 3]) >>> 0;
  if (check !== adler32(out)) throw new HC1Error('zlib', 'not zlib data: incorrect data check');
  return out;
}

function header(message, label) {
  return message.protected.has(label) ? message.protected.get(label) : message.unprotected.get(label);
}

function parseSign1(cose) {
  let obj;
  try {
    obj = decode(cose);
  } catch (err) {
    throw new HC1Error('cose', `not CBOR: ${err.message}`);
  }
  if (obj instanceof Tagged && obj.tag === 61) obj = obj.value;
  if (obj instanceof Tagged) {
    if (obj.tag !== 18) throw new HC1Error('cose', `CBOR tag ${obj.tag} is not a COSE_Sign1 (18)`);
    obj = obj.value;
  }
  if (!Array.isArray(obj) || obj.length !== 4) throw new HC1Error('cose', 'a COSE_Sign1 is an array of 4 items');
  const [protectedBytes, unprotected, payload, signature] = obj;
  if (!(protectedBytes instanceof Uint8Array)) throw new HC1Error('cose', 'the protected header is not a byte string');
  let prot = new Map();
  if (protectedBytes.length) {
    try {
      prot = decode(protectedBytes);
    } catch (err) {
      throw new HC1Error('cose', `the protected header is not CBOR: ${err.message}`);
    }
    if (!(prot instanceof Map)) throw new HC1Error('cose', 'the protected header is not a map');
  }
  if (!(unprotected instanceof Map)) throw new HC1Error('cose', 'the unprotected header is not a map');
  if (!(payload instanceof Uint8Array)) throw new HC1Error('cose', 'the payload is not a byte string');
  if (!(signature instanceof Uint8Array)) throw new HC1Error('cose', 'the signature is not a byte string');
  const message = {protectedBytes, protected: prot, unprotected, payload, signature};
  const kid = header(message, 4);
  message.kid = kid instanceof Uint8Array ? kid : null;
  message.alg = header(message, 1);
  return message;
}

function numericDate(claims, label, name) {
  const value = claims.get(label);
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number') throw new HC1Error('cwt', `${name} is not a NumericDate`);
  const ms = value * 1000;
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) throw new HC1Error('cwt', `${name} is out of range`);
  return ms;
}

/** Take an HC1: text apart (nothing verified yet); throws HC1Error naming the failing step. */
export function decodeHC1(value) {
  if (value.length > MAX_TEXT) throw new HC1Error('prefix', `longer than ${MAX_TEXT} characters`);
  const trimmed = value.trim();
  if (!trimmed.startsWith(HC1_PREFIX)) {
    throw new HC1Error('prefix', `an EU DCC starts with 'HC1:', this starts with '${trimmed.slice(0, 4)}'`);
  }
  const message = parseSign1(decompress(b45decode(trimmed.slice(HC1_PREFIX.length))));
  let claims;
  try {
    claims = decode(message.payload);
  } catch (err) {
    throw new HC1Error('cwt', `the payload is not CBOR: ${err instanceof CborError ? err.message : err}`);
  }
  if (!(claims instanceof Map)) throw new HC1Error('cwt', 'the payload is not a CWT claims map');
  const hcert = claims.get(-260);
  if (!(hcert instanceof Map) || !(hcert.get(1) instanceof Map)) {
    throw new HC1Error('cwt', 'no hcert claim (-260) with a DCC (1)');
  }
  const iss = claims.get(1);
  return {
    message, dcc: toJSON(hcert.get(1)), issuerCountry: typeof iss === 'string' ? iss : null,
    issuedAt: numericDate(claims, 6, 'iat'), expiresAt: numericDate(claims, 4, 'exp'),
  };
}

const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
const fromB64 = (value) => Uint8Array.from(atob(value), (c) => c.charCodeAt(0));

function dccKind(dcc) {
  const present = ['v', 't', 'r'].filter((k) => Object.prototype.hasOwnProperty.call(dcc, k));
  return present.length === 1 ? present[0] : null;
}

const keys = new Map();

async function importKey(dsc, alg) {
  const id = `${alg}:${dsc.publicKey}`;
  if (!keys.has(id)) {
    const params = alg === ES256 ? {name: 'ECDSA', namedCurve: 'P-256'} : {name: 'RSA-PSS', hash: 'SHA-256'};
    keys.set(id, subtleCrypto().importKey('spki', fromB64(dsc.publicKey), params, false, ['verify']));
  }
  return keys.get(id);
}

/** Whether the DSC's key signed the message; a string says why it cannot (alg/key mismatch). */
async function checkSignature(message, dsc) {
  const data = encodeSigStructure(message.protectedBytes, message.payload);
  if (message.alg === ES256) {
    if (dsc.keyType !== 'EC') return 'ES256 needs an EC key; the certificate has another kind';
    if (dsc.curve !== 'P-256') return `ES256 needs a P-256 key; the certificate's key is on ${dsc.curve}`;
    if (message.signature.length !== 64) return `an ES256 signature is 64 bytes, not ${message.signature.length}`;
    const key = await importKey(dsc, ES256);
    return await subtleCrypto().verify({name: 'ECDSA', hash: 'SHA-256'}, key, message.signature, data) || 'the signature does not verify';
  }
  if (message.alg === PS256) {
    if (dsc.keyType !== 'RSA') return 'PS256 needs an RSA key; the certificate has another kind';
    const key = await importKey(dsc, PS256);
    const maxSalt = Math.ceil((key.algorithm.modulusLength - 1) / 8) - 32 - 2;
    for (const saltLength of [32, maxSalt]) { // the EU profile's 32, or the largest (some signers)
      if (await subtleCrypto().verify({name: 'RSA-PSS', saltLength}, key, message.signature, data)) return true;
    }
    return 'the signature does not verify';
  }
  return message.alg === undefined || message.alg === null ? 'no alg header' : `unsupported algorithm ${message.alg} (ES256 or PS256)`;
}

const isoSeconds = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Why the DCC is not valid at `now` (mirrors eudcc.expiration_problems and key_usage_problem). */
function problems(decoded, dsc, now) {
  const out = [];
  const {issuedAt: iat, expiresAt: exp} = decoded;
  if (iat === null || exp === null) {
    out.push(reason('invalid_content', `the CWT has no ${[iat === null && 'iat', exp === null && 'exp'].filter(Boolean).join(' and ')}`));
  } else {
    if (iat < Date.parse(dsc.notBefore) || iat > Date.parse(dsc.notAfter)) {
      out.push(reason('dsc_not_valid', `issued at ${isoSeconds(iat)}, when its DSC was not valid (${dsc.notBefore} to ${dsc.notAfter})`));
    }
    if (iat > now) out.push(reason('not_yet_valid', `not yet valid: issued at ${isoSeconds(iat)}`));
    if (now > exp) out.push(reason('expired', `expired at ${isoSeconds(exp)}`, {time: isoSeconds(exp)}));
  }
  const kind = dccKind(decoded.dcc);
  const allowed = Array.isArray(dsc.usages) ? dsc.usages : [];
  if (allowed.length && kind && !allowed.includes(kind)) {
    out.push(reason('invalid_content', `the DSC may sign ${allowed.map((k) => KINDS[k]).join(', ')} certificates, not ${KINDS[kind]} certificates`));
  }
  if (!kind) out.push(reason('invalid_content', 'the DCC must hold exactly one of v, t, r'));
  return out;
}

function group(dcc) {
  for (const k of ['v', 't', 'r']) {
    if (Array.isArray(dcc[k]) && isObject(dcc[k][0])) return dcc[k][0];
  }
  return {};
}

/** Display fields of a DCC (mirrors certify/credentials/universal.py:eu_summary). */
export function summarizeDcc(decoded, labels, signer) {
  const dcc = decoded.dcc;
  const nam = isObject(dcc.nam) ? dcc.nam : {};
  const entry = group(dcc);
  const kind = dccKind(dcc);
  const names = (isObject(labels) ? labels : {});
  const label = (table, code) => (isObject(names[table]) && names[table][code]) || code;
  const summary = {
    type: kind ? KINDS[kind] : '',
    name: ['gn', 'fn'].map((k) => text(nam[k] || nam[k + 't'])).join(' ').trim(),
    standardisedName: ['fnt', 'gnt'].map((k) => text(nam[k])).filter(Boolean).join('<<'),
    dob: text(dcc.dob), vaccine: '', manufacturer: '', dose: '', totalDoses: '', date: '', facility: '',
    country: text(entry.co), issuer: text(entry.is), certificateId: text(entry.ci),
    issuedAt: decoded.issuedAt !== null ? isoSeconds(decoded.issuedAt) : '',
    expiresAt: decoded.expiresAt !== null ? isoSeconds(decoded.expiresAt) : '',
    signer: signer || '',
  };
  if (kind === 'v') {
    Object.assign(summary, {vaccine: label('euProducts', text(entry.mp)), manufacturer: label('euManufacturers', text(entry.ma)),
      dose: Number.isInteger(entry.dn) ? entry.dn : text(entry.dn),
      totalDoses: Number.isInteger(entry.sd) ? entry.sd : text(entry.sd), date: text(entry.dt)});
  } else if (kind === 't') {
    Object.assign(summary, {date: text(entry.sc), facility: text(entry.tc)});
  } else if (kind === 'r') {
    summary.date = text(entry.fr);
  }
  return summary;
}

function uvciIsValid(value) {
  const hash = value.lastIndexOf('#');
  if (hash < 0 || value.length - hash !== 2) return false;
  const n = UVCI_CHARSET.length;
  let factor = 2;
  let total = 0;
  for (let i = hash - 1; i >= 0; i--) {
    const v = UVCI_CHARSET.indexOf(value[i]);
    if (v < 0) return false;
    const addend = factor * v;
    factor = factor === 2 ? 1 : 2;
    total += Math.floor(addend / n) + (addend % n);
  }
  return UVCI_CHARSET[(n - (total % n)) % n] === value[hash + 1];
}

/** Our certificate id in a UVCI we made: URN:UVCI:01:<CC>:<id>#<check>. */
export function ourCertificateId(dcc) {
  const ci = text(group(dcc).ci);
  const m = /^URN:UVCI:01:[A-Z]{2}:([A-Z0-9]+)#[A-Z0-9/:]$/.exec(ci);
  return m && uvciIsValid(ci) ? m[1] : '';
}

/**
 * Verify an HC1: text against the trust document's DSCs; for one of our own,
 * the revocation list decides revoked/suspended.  Never rejects.
 */
export async function verifyHC1(value, trust, revocations, {now = Date.now()} = {}) {
  let decoded;
  try {
    decoded = decodeHC1(String(value));
  } catch (err) {
    if (!(err instanceof HC1Error)) throw err;
    return invalid(FORMAT, [reason('unreadable_payload', `not a readable EU DCC (${err.stage}): ${err.reason}`)]);
  }
  try {
    if (!isObject(trust) || !Array.isArray(trust.euDscs)) {
      throw new Invalid('trust_missing', 'the verifier has no list of EU document signers yet: open this page once while online');
    }
    const labels = trust.labels;
    const kid = decoded.message.kid;
    if (!kid) throw new Invalid('unknown_key', 'unknown key: the COSE message has no kid');
    const kidText = b64(kid);
    const candidates = trust.euDscs.filter((d) => isObject(d) && d.kid === kidText);
    if (!candidates.length) {
      throw new Invalid('unknown_key', `unknown key: kid ${kidText} is not a trusted document signer`, {key: kidText});
    }
    const failures = [];
    for (const dsc of candidates) {
      let verdict;
      try {
        verdict = await checkSignature(decoded.message, dsc);
      } catch (err) {
        if (err instanceof Invalid) throw err;
        verdict = `the key cannot be used: ${err.message || err}`;
      }
      if (verdict !== true) {
        failures.push(verdict);
        continue;
      }
      const certificate = summarizeDcc(decoded, labels, dsc.subject);
      const found = problems(decoded, dsc, now);
      // certificateRef: our certificate's id, for the revocation list and the statistics
      const extra = {format: FORMAT, own: !!dsc.own, certificateRef: dsc.own ? ourCertificateId(decoded.dcc) : ''};
      if (found.length) return {...invalid(FORMAT, found, certificate), ...extra};
      if (!dsc.own) return {...extra, status: 'valid', reasons: [], warnings: [], certificate, revocation: null};
      return withRevocation(certificate, extra.certificateRef, revocations, now, extra);
    }
    throw new Invalid('bad_signature', `bad signature: ${[...new Set(failures)].join('; ')}`);
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    return invalid(FORMAT, [reason(err.code, err.message, err.extra)], summarizeDcc(decoded, trust && trust.labels, ''));
  }
}
