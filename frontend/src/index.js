// DivocVerifier: verify vaccination certificates in the browser, offline,
// against a trust document and a revocation list from the server: DIVOC
// credentials, EU Digital COVID Certificates (HC1:) and SMART Health Cards (shc:/).
//
//   await DivocVerifier.decodeQR(imageDataOrBlob)  -> Uint8Array | null
//   await DivocVerifier.decodeQRAll(imageDataOrBlob) -> [Uint8Array] (every QR code in the image)
//   DivocVerifier.unpack(bytes)                    -> credential (throws PayloadError)
//   await DivocVerifier.verify(credential, trust, revocations)
//   await DivocVerifier.verifyPayload(bytes, trust, revocations)   (unpack + verify, DIVOC)
//   await DivocVerifier.verifyScanned([bytes...], trust, revocations)  (any of the three formats)
//   await DivocVerifier.verifyHC1(text, trust, revocations) / verifySHC(textOrTexts, trust)
//   await DivocVerifier.verifyRevocationList(list, trust)  -> {ok} | {ok: false, code, message}
//   DivocVerifier.mergeRevocations(local, list)    -> {list, applied: full|delta|stale|gap}
//       -> {status: 'valid'|'revoked'|'suspended'|'invalid', format: 'divoc'|'eu-dcc'|'shc',
//           reasons: [{code, message, ...}], warnings: [{code, message, ...}],
//           certificate: {...} | null, revocation: {...} | null}
//
// Verification never throws and never touches the network.
import {canonize, staticLoader, CanonError} from './canon.js';
import {base64UrlDecode, concatBytes, sha256, verifyEd25519, verifyRsaPss} from './crypto.js';
import {unpack, PayloadError, MAX_UNCOMPRESSED} from './unpack.js';
import {decodeQR, decodeQRAll, preloadDecoder, setWasmUrl, QRError} from './qr.js';
import {HC1_PREFIX, verifyHC1} from './hcert.js';
import {QR_PREFIX, verifySHC} from './shc.js';
import {Invalid, invalid, isObject, reason, text} from './result.js';
import {canonicalJson, mergeRevocations, revocationEntry, verifyRevocationList, withRevocation} from './revocation.js';

const LRU = require('lru-cache');

export {unpack, decodeQR, decodeQRAll, preloadDecoder, setWasmUrl, MAX_UNCOMPRESSED, verifyHC1, verifySHC};
export {canonicalJson, mergeRevocations, revocationEntry, verifyRevocationList};

export const CREDENTIALS_V1 = 'https://www.w3.org/2018/credentials/v1';
export const SECURITY_V2 = 'https://w3id.org/security/v2';
const CREDENTIAL_TYPE = 'ProofOfVaccinationCredential';

const PROOF_TYPES = {
  Ed25519Signature2018: {alg: 'EdDSA', keyType: 'Ed25519VerificationKey2018'},
  RsaSignature2018: {alg: 'PS256', keyType: 'RsaVerificationKey2018'},
};

const asArray = (v) => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);

// One context cache per trust document: contexts are processed once.
const caches = new WeakMap();
function cacheFor(trust) {
  let cache = caches.get(trust);
  if (!cache) {
    cache = new LRU({max: 100});
    caches.set(trust, cache);
  }
  return cache;
}

function hasNestedContext(value, depth) {
  if (depth > 64) return true; // absurdly deep: refuse
  if (Array.isArray(value)) return value.some((v) => hasNestedContext(v, depth + 1));
  if (isObject(value)) {
    return Object.keys(value).some((k) => k === '@context' || hasNestedContext(value[k], depth + 1));
  }
  return false;
}

/** Structural checks: a DIVOC vaccination credential with trusted contexts only. */
function checkShape(credential, trust) {
  if (!isObject(credential)) throw new Invalid('not_divoc', 'this is not a vaccination certificate (not a JSON object)');
  const ctx = credential['@context'];
  if (!Array.isArray(ctx) || ctx[0] !== CREDENTIALS_V1 || ctx.length < 2 || !ctx.every((c) => typeof c === 'string')) {
    throw new Invalid('not_divoc', 'this is not a DIVOC vaccination certificate (wrong @context)');
  }
  const known = (trust && trust.contexts) || {};
  for (const url of ctx) {
    if (!Object.prototype.hasOwnProperty.call(known, url)) {
      throw new Invalid('unknown_context', `this certificate uses a context this verifier does not trust: ${url}`, {url});
    }
  }
  // Inline contexts could re-map terms (show one name, sign another): refuse.
  const {'@context': _top, ...rest} = credential;
  if (hasNestedContext(rest, 0)) {
    throw new Invalid('not_divoc', 'this certificate redefines its vocabulary (embedded @context)');
  }
  const types = asArray(credential.type);
  if (!types.includes('VerifiableCredential') || !types.includes(CREDENTIAL_TYPE)) {
    throw new Invalid('not_divoc', `this is not a vaccination certificate (type ${types.join(', ') || 'missing'})`);
  }
  if (!isObject(credential.credentialSubject)) {
    throw new Invalid('not_divoc', 'this certificate has no credential subject');
  }
}

function checkProof(credential) {
  const proof = credential.proof;
  if (!isObject(proof)) throw new Invalid('no_signature', 'this certificate is not signed (no proof)');
  const spec = PROOF_TYPES[proof.type];
  if (!spec) throw new Invalid('unsupported_signature', `unsupported signature type ${text(proof.type) || 'missing'}`);
  if (proof.proofPurpose !== 'assertionMethod') {
    throw new Invalid('bad_signature', `the signature has the wrong purpose (${text(proof.proofPurpose) || 'missing'})`);
  }
  const jws = proof.jws;
  const parts = typeof jws === 'string' ? jws.split('.') : [];
  if (parts.length !== 3 || parts[1] !== '' || !parts[0] || !parts[2]) {
    throw new Invalid('bad_signature', 'the signature is malformed (expected a detached JWS)');
  }
  let header;
  let signature;
  try {
    header = JSON.parse(new TextDecoder('utf-8', {fatal: true}).decode(base64UrlDecode(parts[0])));
    signature = base64UrlDecode(parts[2]);
  } catch (_) {
    throw new Invalid('bad_signature', 'the signature is malformed (JWS is not base64url JSON)');
  }
  if (!isObject(header) || header.alg !== spec.alg || header.b64 !== false ||
      !Array.isArray(header.crit) || !header.crit.includes('b64')) {
    throw new Invalid('bad_signature', `the signature header is not ${spec.alg} with b64=false`);
  }
  return {proof, spec, encodedHeader: parts[0], signature};
}

function findKey(trust, proof, spec) {
  const keys = (trust && Array.isArray(trust.keys)) ? trust.keys : [];
  const vm = proof.verificationMethod;
  const named = keys.filter((k) => isObject(k) && k.id === vm);
  if (!named.length) throw new Invalid('unknown_key', `the certificate was signed with a key this verifier does not trust (${text(vm) || 'none'})`, {key: text(vm)});
  const key = named.find((k) => k.type === spec.keyType);
  if (!key) throw new Invalid('unknown_key', `key ${vm} is not a trusted ${spec.keyType}`, {key: text(vm)});
  return key;
}

/** The bytes DIVOC signs: b64url(header) "." SHA256(c14n proof options) SHA256(c14n document). */
export async function signedBytes(credential, proof, encodedHeader, trust) {
  const documentLoader = staticLoader((trust && trust.contexts) || {});
  const sharedCache = cacheFor(trust);
  const {jws: _j, signatureValue: _s, proofValue: _p, ...options} = proof;
  options['@context'] = SECURITY_V2;
  const {proof: _proof, ...document} = credential;
  const proofNQuads = await canonize(options, {documentLoader, sharedCache});
  const docNQuads = await canonize(document, {documentLoader, sharedCache});
  const enc = new TextEncoder();
  return concatBytes(enc.encode(encodedHeader + '.'), sha256(enc.encode(proofNQuads)), sha256(enc.encode(docNQuads)));
}

/** The certificate id a revocation list names: evidence[0].certificateId (else the evidence id's tail). */
export function certificateIdOf(credential) {
  const ev = isObject(credential) ? asArray(credential.evidence)[0] : null;
  if (!isObject(ev)) return '';
  if (ev.certificateId !== undefined && ev.certificateId !== '') return text(ev.certificateId);
  const id = text(ev.id);
  const tail = id.slice(id.lastIndexOf('/') + 1);
  return tail && tail !== 'undefined' ? decodeURIComponent(tail) : '';
}

/** Holder and vaccination details to compare with an ID document. */
export function summarize(credential) {
  if (!isObject(credential)) return null;
  const s = isObject(credential.credentialSubject) ? credential.credentialSubject : {};
  const ev = asArray(credential.evidence).find(isObject) || {};
  const fac = isObject(ev.facility) ? ev.facility : {};
  const addr = isObject(fac.address) ? fac.address : {};
  const place = [fac.name, addr.city || addr.district, addr.addressRegion].map(text).filter(Boolean);
  return {
    name: text(s.name),
    age: text(s.age),
    dob: text(s.dob),
    gender: text(s.gender || s.sex),
    nationality: text(s.nationality),
    refId: text(s.refId),
    certificateId: certificateIdOf(credential),
    vaccine: text(ev.vaccine),
    manufacturer: text(ev.manufacturer),
    batch: text(ev.batch),
    dose: text(ev.dose),
    totalDoses: text(ev.totalDoses),
    date: text(ev.date),
    effectiveUntil: text(ev.effectiveUntil),
    facility: place.join(', '),
    vaccinator: text(isObject(ev.verifier) ? ev.verifier.name : ''),
    issuer: text(isObject(credential.issuer) ? credential.issuer.id : credential.issuer),
    issuanceDate: text(credential.issuanceDate),
  };
}

/**
 * Verify a credential (a parsed JSON object).  Resolves to a result object;
 * never rejects.
 */
export async function verify(credential, trust, revocations, {now = Date.now()} = {}) {
  try {
    if (!isObject(trust) || !Array.isArray(trust.keys) || !isObject(trust.contexts)) {
      return invalid('divoc', [reason('trust_missing', 'the verifier has no trust list yet: open this page once while online')]);
    }
    checkShape(credential, trust);
    const {proof, spec, encodedHeader, signature} = checkProof(credential);
    const key = findKey(trust, proof, spec);
    let data;
    try {
      data = await signedBytes(credential, proof, encodedHeader, trust);
    } catch (err) {
      if (err instanceof CanonError && err.code === 'unknown_context') {
        throw new Invalid('unknown_context', `this certificate uses a context this verifier does not trust: ${err.details.url}`, err.details);
      }
      throw new Invalid('bad_signature', `the certificate cannot be checked: ${err.message || err}`);
    }
    let ok;
    if (proof.type === 'Ed25519Signature2018') {
      if (!key.publicKeyBase58) throw new Invalid('unknown_key', `key ${key.id} has no publicKeyBase58`);
      ok = verifyEd25519(signature, data, key.publicKeyBase58);
    } else {
      if (!key.publicKeyPem) throw new Invalid('unknown_key', `key ${key.id} has no publicKeyPem`);
      ok = await verifyRsaPss(signature, data, key.publicKeyPem);
    }
    if (!ok) throw new Invalid('bad_signature', 'the signature does not match: the certificate was changed after it was issued, or is forged');

    const certificate = summarize(credential);
    return withRevocation(certificate, certificate.certificateId, revocations, now, {format: 'divoc'});
  } catch (err) {
    if (err instanceof Invalid) {
      return invalid('divoc', [reason(err.code, err.message, err.extra)]);
    }
    if (err && err.code === 'crypto_unavailable') {
      return invalid('divoc', [reason('crypto_unavailable', err.message)]);
    }
    return invalid('divoc', [reason('error', `the certificate could not be checked: ${(err && err.message) || err}`)]);
  }
}

/** Unpack a scanned QR payload (bytes or text) and verify it.  Never rejects. */
export async function verifyPayload(payload, trust, revocations, options) {
  let credential;
  try {
    credential = unpack(payload);
  } catch (err) {
    const message = err instanceof PayloadError ? err.message : String((err && err.message) || err);
    return invalid('divoc', [reason('unreadable_qr', `the QR code does not hold a certificate: ${message}`)]);
  }
  return verify(credential, trust, revocations, options);
}

const latin1 = (bytes) => String.fromCharCode(...bytes.subarray(0, 8));
const asText = (bytes) => new TextDecoder('utf-8').decode(bytes);

/** 'eu-dcc' (HC1:), 'shc' (shc:/ or a compact JWS) or 'divoc' for scanned QR bytes. */
export function detectFormat(bytes) {
  const raw = bytes instanceof Uint8Array ? bytes : new TextEncoder().encode(String(bytes));
  let i = 0;
  while (i < raw.length && (raw[i] === 0x20 || raw[i] === 0x09 || raw[i] === 0x0a || raw[i] === 0x0d)) i++;
  const head = latin1(raw.subarray(i));
  if (head.startsWith(HC1_PREFIX)) return 'eu-dcc';
  if (head.slice(0, 5).toLowerCase() === QR_PREFIX) return 'shc';
  if (raw.length < 256 * 1024 && /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(asText(raw).trim())) return 'shc';
  return 'divoc';
}

/**
 * Verify what a scan or an upload read: the bytes of one QR code, or of all the
 * QR codes in an image (a chunked health card).  DIVOC, EU DCC and SMART Health
 * Card; the result's `format` says which.  Never rejects.
 */
export async function verifyScanned(payloads, trust, revocations, options) {
  const list = (Array.isArray(payloads) ? payloads : [payloads]).filter((p) => p && p.length);
  if (!list.length) return invalid('divoc', [reason('no_qr', 'no QR code was found in the image')]);
  const format = detectFormat(list[0]);
  try {
    if (format === 'eu-dcc') return await verifyHC1(asText(list[0]), trust, revocations, options);
    if (format === 'shc') {
      const texts = list.map(asText).filter((t) => detectFormat(t) === 'shc');
      return await verifySHC(texts.length > 1 ? texts : texts[0], trust, options);
    }
  } catch (err) {
    if (err && err.code === 'crypto_unavailable') return invalid(format, [reason('crypto_unavailable', err.message)]);
    return invalid(format, [reason('error', `the certificate could not be checked: ${(err && err.message) || err}`)]);
  }
  return verifyPayload(list[0], trust, revocations, options);
}

/**
 * Decode an image (ImageData, Blob/File) and verify the certificate in it.
 * Never rejects; status 'invalid' with reason 'no_qr' when no QR is found.
 */
export async function verifyImage(image, trust, revocations, options) {
  let bytes;
  try {
    bytes = await decodeQR(image);
  } catch (err) {
    const code = err instanceof QRError ? err.code : 'unreadable_qr';
    return invalid('divoc', [reason(code, (err && err.message) || String(err))]);
  }
  if (!bytes) {
    return invalid('divoc', [reason('no_qr', 'no QR code was found in the image')]);
  }
  return verifyPayload(bytes, trust, revocations, options);
}

/** URDNA2015 N-Quads of a document, with the trust document's contexts (as DIVOC signs them). */
export function canonicalize(document, trust) {
  return canonize(document, {documentLoader: staticLoader((trust && trust.contexts) || {}), sharedCache: cacheFor(trust)});
}
