// The signed revocation list: check its detached JWS (RFC 7797) against the
// trust document, and merge incremental lists (?since=SERIAL) into a local copy.
//
// Signed bytes: ASCII(b64url(header)) "." UTF-8(canonical JSON of the list
// without "signature"), where canonical JSON = keys sorted by UTF-16 code
// units, no whitespace, non-ASCII unescaped (RFC 8785 for float-free
// documents; certify/credentials/jws.py signs with Python's json.dumps(
// sort_keys=True, separators=(",", ":"), ensure_ascii=False)).
import {base64UrlDecode, concatBytes, verifyEd25519, verifyRsaPss} from './crypto.js';
import {isObject, text} from './result.js';


const ALGS = {
  EdDSA: 'Ed25519VerificationKey2018',
  PS256: 'RsaVerificationKey2018',
};

class ListError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** Canonical JSON (sorted keys, compact, strings as JSON.stringify writes them). */
export function canonicalJson(value) {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new ListError('bad_signature', 'the revocation list holds a non-integer number');
    return String(value);
  }
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
  if (isObject(value)) {
    return '{' + Object.keys(value).sort().map((k) => JSON.stringify(k) + ':' + canonicalJson(value[k])).join(',') + '}';
  }
  throw new ListError('bad_signature', `the revocation list holds a value JSON cannot carry (${typeof value})`);
}

function parseJws(list) {
  const sig = list.signature;
  if (!isObject(sig) || typeof sig.jws !== 'string') throw new ListError('unsigned', 'the revocation list is not signed');
  const parts = sig.jws.split('.');
  if (parts.length !== 3 || parts[1] !== '' || !parts[0] || !parts[2]) {
    throw new ListError('bad_signature', 'the revocation list signature is malformed (expected a detached JWS)');
  }
  let header;
  let signature;
  try {
    header = JSON.parse(new TextDecoder('utf-8', {fatal: true}).decode(base64UrlDecode(parts[0])));
    signature = base64UrlDecode(parts[2]);
  } catch (_) {
    throw new ListError('bad_signature', 'the revocation list signature is malformed (not base64url JSON)');
  }
  if (!isObject(header) || header.b64 !== false || !Array.isArray(header.crit) ||
      header.crit.length !== 1 || header.crit[0] !== 'b64') {
    throw new ListError('bad_signature', 'the revocation list signature header is not b64=false');
  }
  if (!Object.prototype.hasOwnProperty.call(ALGS, header.alg)) {
    throw new ListError('bad_signature', `unsupported revocation list signature algorithm ${String(header.alg)}`);
  }
  if ((sig.alg !== undefined && sig.alg !== header.alg) || (sig.kid !== undefined && sig.kid !== header.kid)) {
    throw new ListError('bad_signature', 'the revocation list signature header does not match its alg/kid');
  }
  return {header, encodedHeader: parts[0], signature};
}

/**
 * Check a revocation list's signature with the trust document's keys.
 * Resolves to {ok: true} or {ok: false, code, message}; never rejects.
 */
export async function verifyRevocationList(list, trust) {
  try {
    if (!isObject(list) || !Array.isArray(list.entries)) throw new ListError('malformed', 'this is not a revocation list');
    if (!isObject(trust) || !Array.isArray(trust.keys)) throw new ListError('trust_missing', 'no trust document to check the revocation list with');
    const {header, encodedHeader, signature} = parseJws(list);
    const keyType = ALGS[header.alg];
    const key = trust.keys.find((k) => isObject(k) && k.id === header.kid && k.type === keyType);
    if (!key) throw new ListError('unknown_key', `the revocation list was signed with a key this verifier does not trust (${String(header.kid)})`);
    const {signature: _s, ...body} = list;
    const enc = new TextEncoder();
    const data = concatBytes(enc.encode(encodedHeader + '.'), enc.encode(canonicalJson(body)));
    let ok;
    if (header.alg === 'EdDSA') {
      ok = !!key.publicKeyBase58 && verifyEd25519(signature, data, key.publicKeyBase58);
    } else {
      ok = !!key.publicKeyPem && await verifyRsaPss(signature, data, key.publicKeyPem);
    }
    if (!ok) throw new ListError('bad_signature', 'the revocation list signature does not match: it was changed or forged');
    return {ok: true};
  } catch (err) {
    return {ok: false, code: err.code || 'error', message: (err && err.message) || String(err)};
  }
}

function serialOf(list) {
  return isObject(list) && Number.isSafeInteger(list.serial) && list.serial >= 0 ? list.serial : null;
}

/**
 * Apply a (signature-checked) list to the local copy.  `list.since === null`
 * is a full list; otherwise it holds the certificates changed after `since`
 * (status "valid" = reinstated: drop it).  Returns {list, applied} where
 * `applied` is 'full' | 'delta' | 'stale' (older than the local copy: kept the
 * local one) | 'gap' (a delta that does not start at or before the local
 * serial, or from a server whose serials went backwards: fetch the full list).  The result carries no signature.
 */
export function mergeRevocations(local, list) {
  const serial = serialOf(list);
  if (serial === null || !Array.isArray(list.entries)) return {list: local || null, applied: 'gap'};
  const localSerial = serialOf(local);
  const meta = {type: list.type, issuer: list.issuer, serial, thisUpdate: list.thisUpdate, nextUpdate: list.nextUpdate};
  const keep = (e) => isObject(e) && typeof e.certificateId === 'string' && e.status !== 'valid';
  if (list.since === null || list.since === undefined) {
    if (localSerial !== null && serial < localSerial && local.issuer === list.issuer) {
      return {list: local, applied: 'stale'};
    }
    return {list: {...meta, entries: list.entries.filter(keep)}, applied: 'full'};
  }
  // serial < since: the server's history restarted (its serials went backwards)
  if (localSerial === null || !Number.isSafeInteger(list.since) || list.since > localSerial ||
      serial < list.since || local.issuer !== list.issuer) {
    return {list: local || null, applied: 'gap'};
  }
  if (serial < localSerial) return {list: local, applied: 'stale'};
  const changed = new Map();
  for (const e of list.entries) if (isObject(e) && typeof e.certificateId === 'string') changed.set(e.certificateId, e);
  const entries = (Array.isArray(local.entries) ? local.entries : []).filter((e) => !changed.has(e.certificateId));
  for (const e of changed.values()) if (keep(e)) entries.push(e);
  return {list: {...meta, entries}, applied: 'delta'};
}

/** The revocation-list entry for a certificate id, or null. */
export function revocationEntry(certificateId, revocations) {
  if (!certificateId || !revocations || !Array.isArray(revocations.entries)) return null;
  let found = null;
  for (const e of revocations.entries) {
    if (isObject(e) && e.certificateId === certificateId) {
      // "revoked" wins over "suspended" if both appear
      if (!found || e.status === 'revoked') found = e;
    }
  }
  return found;
}

function revocationWarnings(revocations, now) {
  if (!isObject(revocations) || !Array.isArray(revocations.entries)) {
    return [{code: 'revocation_list_missing', message: 'the revocation list is not available: revoked certificates may show as valid'}];
  }
  const next = Date.parse(revocations.nextUpdate);
  if (Number.isFinite(next) && now > next) {
    return [{code: 'revocation_list_stale', message: `the revocation list is out of date (next update was due ${revocations.nextUpdate})`, nextUpdate: revocations.nextUpdate}];
  }
  return [];
}

/**
 * The result for a genuine certificate of ours (`certificateId` as the revocation
 * list names it): valid, or revoked/suspended as the local list says.
 */
export function withRevocation(certificate, certificateId, revocations, now, extra) {
  const warnings = revocationWarnings(revocations, now);
  const entry = revocationEntry(certificateId, revocations);
  if (entry && (entry.status === 'revoked' || entry.status === 'suspended')) {
    const when = text(entry.time);
    const why = text(entry.reason);
    const until = entry.status === 'suspended' ? text(entry.until) : '';
    const verb = entry.status === 'revoked' ? 'revoked' : 'suspended';
    const message = `this certificate was ${verb}${when ? ' at ' + when : ''}${until ? ' until ' + until : ''}${why ? ': ' + why : ''}`;
    return {
      ...extra,
      status: entry.status,
      reasons: [{code: entry.status, message, time: when, reason: why, until}],
      warnings,
      certificate,
      revocation: {status: entry.status, time: when, reason: why, until},
    };
  }
  return {...extra, status: 'valid', reasons: [], warnings, certificate, revocation: null};
}
