// SMART Health Cards in the browser: numeric QR (one or all chunks), compact
// JWS or .smart-health-card file -> header, raw DEFLATE payload, trusted
// issuer's JWKS, ES256 (WebCrypto), nbf/exp, vc.type and the FHIR Bundle's
// essentials, as certify/credentials/shc.py:verify_shc checks them (the
// server also lints the whole Bundle; a test runs both over the spec's
// examples and the official validator's card fixtures).  Trusted issuers come
// from the trust document (`shcIssuers`: iss, usable keys, and whether it is
// ours).  Our own cards name no certificate id; the page asks the server for
// their doses' status when it is online.
import {base64UrlDecode} from './crypto.js';
import {inflateCapped} from './unpack.js';
import {Invalid, invalid, isObject, reason, subtleCrypto, text} from './result.js';

export const QR_PREFIX = 'shc:/';
const HEALTH_CARD = 'https://smarthealth.cards#health-card';
const MAX_CHUNK_JWS = 1191;
const MAX_CHUNKS = 64;
const MAX_INPUT = 256 * 1024;
const MAX_PAYLOAD = 1024 * 1024;
const MS_THRESHOLD = 1e11;
const SKEW = 300;
const CVX = 'http://hl7.org/fhir/sid/cvx';
const ICD11 = ['http://id.who.int/icd/release/11/mms', 'http://id.who.int/icd11/mms'];
const FORMAT = 'shc';
const utf8 = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true}); // keep a BOM: it is an error

/** The JWS in the numeric contents of one QR or of every chunk of a card (any order). */
export function numericToJws(chunks) {
  const parts = new Map();
  let total = null;
  for (const raw of chunks) {
    const m = /^shc:\/(?:([0-9]+)\/([0-9]+)\/)?([0-9]*)$/.exec(raw);
    if (!m) throw new Invalid('unreadable_payload', 'not a health-card QR: expected shc:/ followed by digits');
    const digits = m[3];
    if (!digits || digits.length % 2) throw new Invalid('unreadable_payload', 'the numeric QR content must be a non-empty, even number of digits');
    let jws = '';
    for (let i = 0; i < digits.length; i += 2) {
      const n = Number(digits.slice(i, i + 2));
      if (n > 77) throw new Invalid('unreadable_payload', 'the numeric QR content has a value above 77');
      jws += String.fromCharCode(n + 45);
    }
    let index = 1;
    let count = 1;
    if (m[1] === undefined) {
      if (chunks.length > 1) throw new Invalid('unreadable_payload', 'a QR without a chunk header cannot be combined with others');
    } else {
      index = Number(m[1]);
      count = Number(m[2]);
      if (count > MAX_CHUNKS) throw new Invalid('unreadable_payload', `a card has at most ${MAX_CHUNKS} chunks`);
      if (index < 1 || index > count) throw new Invalid('unreadable_payload', `chunk ${index} of ${count} is out of range`);
      if (jws.length > MAX_CHUNK_JWS) throw new Invalid('unreadable_payload', `chunk ${index} holds ${jws.length} characters (max ${MAX_CHUNK_JWS})`);
    }
    if (total !== null && count !== total) throw new Invalid('unreadable_payload', 'the chunks disagree on how many there are');
    total = count;
    if (parts.has(index)) throw new Invalid('unreadable_payload', `chunk ${index} appears twice`);
    parts.set(index, jws);
  }
  if (total === null) throw new Invalid('unreadable_payload', 'no QR content');
  const missing = [];
  for (let i = 1; i <= total; i++) if (!parts.has(i)) missing.push(i);
  if (missing.length) {
    throw new Invalid('incomplete_card', `this card is split over ${total} QR codes; ${missing.length} missing`, {missing, total});
  }
  return Array.from({length: total}, (_, i) => parts.get(i + 1)).join('');
}

/** The JWS strings in what was scanned or read: QR texts, a JWS or a .smart-health-card file. */
export function cardsOf(input) {
  const items = (Array.isArray(input) ? input : [input]).map((t) => String(t));
  if (!items.length || items.reduce((n, t) => n + t.length, 0) > MAX_INPUT) {
    throw new Invalid('unreadable_payload', 'no health card, or too large');
  }
  const stripped = items.map((t) => t.trim());
  if (stripped[0].slice(0, 5).toLowerCase() === QR_PREFIX) return [numericToJws(stripped)];
  if (stripped.length > 1) throw new Invalid('unreadable_payload', 'only numeric QR chunks can be combined');
  if (stripped[0].startsWith('{')) {
    let doc;
    try {
      doc = JSON.parse(stripped[0]);
    } catch (_) {
      throw new Invalid('unreadable_payload', 'not a .smart-health-card file: not JSON');
    }
    let cards = isObject(doc) ? doc.verifiableCredential : null;
    if (isObject(doc) && doc.resourceType === 'Parameters' && Array.isArray(doc.parameter)) {
      cards = doc.parameter.filter((p) => isObject(p) && p.name === 'verifiableCredential').map((p) => p.valueString);
    }
    if (!Array.isArray(cards) || !cards.length || !cards.every((c) => typeof c === 'string')) {
      throw new Invalid('unreadable_payload', 'not a .smart-health-card file: verifiableCredential must list JWS strings');
    }
    return cards;
  }
  return [stripped[0]];
}

function readJws(jws) {
  const parts = jws.split('.');
  if (parts.length !== 3 || !parts.every(Boolean)) throw new Invalid('unreadable_payload', 'not a compact JWS (header.payload.signature)');
  let header;
  let compressed;
  let signature;
  try {
    header = JSON.parse(utf8.decode(base64UrlDecode(parts[0])));
    compressed = base64UrlDecode(parts[1]);
    signature = base64UrlDecode(parts[2]);
  } catch (_) {
    throw new Invalid('unreadable_payload', 'the JWS is not base64url JSON');
  }
  if (!isObject(header)) throw new Invalid('unreadable_payload', 'the JWS header is not a JSON object');
  if (header.alg !== 'ES256') throw new Invalid('unsupported_signature', `JWS header alg must be ES256, got ${text(header.alg) || 'none'}`);
  if (header.zip !== 'DEF') throw new Invalid('unreadable_payload', 'JWS header zip must be DEF (a compressed payload)');
  if (typeof header.kid !== 'string' || !header.kid) throw new Invalid('unknown_key', 'JWS header kid is required');
  if (signature.length !== 64) throw new Invalid('bad_signature', `the ES256 signature must be 64 bytes (r||s), got ${signature.length}`);
  let payload;
  try {
    const raw = utf8.decode(inflateCapped(compressed, MAX_PAYLOAD, 'the health card'));
    if (raw.startsWith('\ufeff') || raw !== raw.trim()) throw new Error('the payload has a byte-order mark or surrounding whitespace');
    payload = JSON.parse(raw);
  } catch (err) {
    throw new Invalid('unreadable_payload', `the payload does not inflate to JSON: ${err.message || err}`);
  }
  if (!isObject(payload)) throw new Invalid('unreadable_payload', 'the payload is not a JSON object');
  const enc = new TextEncoder();
  return {header, payload, signingInput: enc.encode(`${parts[0]}.${parts[1]}`), signature};
}

function timeValue(payload, name, errors) {
  const value = payload[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    errors.push(reason('invalid_content', `${name} must be a number of seconds`));
    return null;
  }
  if (value > MS_THRESHOLD) errors.push(reason('invalid_content', `${name} must be seconds since the epoch (this looks like milliseconds)`));
  return value;
}

/** What makes a card unusable: times, vc.type and the Bundle's essentials (errors only). */
function payloadProblems(payload, now) {
  const errors = [];
  const seconds = now / 1000;
  const nbf = timeValue(payload, 'nbf', errors);
  if (!('nbf' in payload)) errors.push(reason('invalid_content', 'nbf is required'));
  else if (nbf !== null && nbf > seconds + SKEW) errors.push(reason('not_yet_valid', 'the card is not yet valid (nbf is in the future)'));
  const exp = timeValue(payload, 'exp', errors);
  if (exp !== null) {
    if (nbf !== null && exp < nbf) errors.push(reason('invalid_content', 'exp is before nbf'));
    else if (exp < seconds - SKEW) errors.push(reason('expired', 'the card has expired', {time: new Date(exp * 1000).toISOString()}));
  }
  const vc = payload.vc;
  if (!isObject(vc)) return errors.concat(reason('invalid_content', 'vc is required'));
  if (!Array.isArray(vc.type) || !vc.type.includes(HEALTH_CARD)) errors.push(reason('invalid_content', `vc.type must include ${HEALTH_CARD}`));
  const bundle = isObject(vc.credentialSubject) ? vc.credentialSubject.fhirBundle : null;
  if (!isObject(bundle) || bundle.resourceType !== 'Bundle') return errors.concat(reason('invalid_content', 'fhirBundle is not a FHIR Bundle'));
  if (bundle.type !== 'collection') errors.push(reason('invalid_content', "fhirBundle.type must be 'collection'"));
  if (!Array.isArray(bundle.entry) || !bundle.entry.length) return errors.concat(reason('invalid_content', 'fhirBundle.entry must list the resources'));
  bundle.entry.forEach((entry, i) => {
    const res = isObject(entry) ? entry.resource : null;
    if (!isObject(res)) {
      errors.push(reason('invalid_content', `fhirBundle.entry[${i}].resource is required`));
    } else if (res.resourceType === 'Immunization') {
      const coding = isObject(res.vaccineCode) && Array.isArray(res.vaccineCode.coding) ? res.vaccineCode.coding[0] : null;
      const occurrences = ['occurrenceDateTime', 'occurrenceString'].filter((k) => k in res);
      if (res.status !== 'completed' || !isObject(coding) || typeof coding.code !== 'string' ||
          !isObject(res.patient) || occurrences.length !== 1) {
        errors.push(reason('invalid_content', `fhirBundle.entry[${i}] is not a completed Immunization with a code, a patient and a date`));
      }
    }
  });
  return errors;
}

const keys = new Map();

async function verifySignature(jwk, signingInput, signature) {
  const id = `${jwk.kid}:${jwk.x}:${jwk.y}`;
  if (!keys.has(id)) {
    keys.set(id, subtleCrypto().importKey('jwk', {kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, ext: true},
      {name: 'ECDSA', namedCurve: 'P-256'}, false, ['verify']));
  }
  try {
    return await subtleCrypto().verify({name: 'ECDSA', hash: 'SHA-256'}, await keys.get(id), signature, signingInput);
  } catch (err) {
    if (err instanceof Invalid) throw err;
    keys.delete(id);
    return false;
  }
}

/** One JWS: {problems, payload, issuer} (the signature checked against the trusted issuer). */
async function checkCard(jws, trust, now) {
  const {header, payload, signingInput, signature} = readJws(jws);
  const issuers = Array.isArray(trust.shcIssuers) ? trust.shcIssuers : [];
  const issuer = issuers.find((i) => isObject(i) && i.iss === payload.iss);
  if (!issuer) {
    throw new Invalid('unknown_issuer', `unknown issuer: ${text(payload.iss) || 'none'} is not a trusted SMART Health Card issuer`, {issuer: text(payload.iss)});
  }
  const jwk = (Array.isArray(issuer.keys) ? issuer.keys : []).find((k) => isObject(k) && k.kid === header.kid);
  if (!jwk) throw new Invalid('unknown_key', `unknown key: ${header.kid} is not in the JWKS of ${issuer.iss}`, {key: header.kid});
  if (!await verifySignature(jwk, signingInput, signature)) {
    throw new Invalid('bad_signature', 'bad signature: the card was changed after it was signed, or signed by another key');
  }
  return {problems: payloadProblems(payload, now), payload, issuer};
}

const first = (v) => (Array.isArray(v) && isObject(v[0]) ? v[0] : {});

export function vaccineLabel(system, code, labels) {
  const names = isObject(labels) ? labels : {};
  if (system === CVX) return (isObject(names.cvx) && names.cvx[code]) || `CVX ${code}`;
  if (ICD11.includes(system)) {
    const term = isObject(names.icd11) && names.icd11[code];
    return term ? `${term} (ICD-11 ${code})` : `ICD-11 ${code}`;
  }
  return system ? `${code} (${system})` : code;
}

/** Holder and vaccinations (mirrors certify/credentials/universal.py:shc_summary). */
export function summarizeCard(payloads, issuer, labels) {
  let name = '';
  let dob = '';
  const doses = [];
  for (const payload of payloads) {
    const vc = isObject(payload.vc) ? payload.vc : {};
    const bundle = isObject(vc.credentialSubject) && isObject(vc.credentialSubject.fhirBundle) ? vc.credentialSubject.fhirBundle : {};
    for (const entry of Array.isArray(bundle.entry) ? bundle.entry : []) {
      const res = isObject(entry) && isObject(entry.resource) ? entry.resource : {};
      if (res.resourceType === 'Patient' && !name) {
        const n = first(res.name);
        const given = Array.isArray(n.given) ? n.given.map(text) : [];
        name = text(n.text) || given.concat(n.family ? [text(n.family)] : []).join(' ');
        dob = text(res.birthDate);
      } else if (res.resourceType === 'Immunization') {
        const coding = first(isObject(res.vaccineCode) ? res.vaccineCode.coding : null);
        doses.push({
          date: text(res.occurrenceDateTime || res.occurrenceString).slice(0, 10),
          vaccine: vaccineLabel(text(coding.system), text(coding.code), labels),
          lot: text(res.lotNumber),
          facility: text(isObject(first(res.performer).actor) ? first(res.performer).actor.display : ''),
        });
      }
    }
  }
  const newest = doses[doses.length - 1] || {date: '', vaccine: '', facility: ''};
  return {name, dob, vaccine: newest.vaccine, dose: doses.length || '', totalDoses: '',
    date: newest.date, facility: newest.facility, issuer, certificateId: '', immunizations: doses};
}

/**
 * Verify a health card: the text of one QR (or of all its chunks, as a list), a
 * compact JWS or a .smart-health-card file.  Never rejects.  `own` says it was
 * issued by us (the page then asks the server about its doses' status).
 */
export async function verifySHC(input, trust, {now = Date.now()} = {}) {
  let payloads = [];
  let issuer = null;
  try {
    if (!isObject(trust) || !Array.isArray(trust.shcIssuers)) {
      throw new Invalid('trust_missing', 'the verifier has no list of health-card issuers yet: open this page once while online');
    }
    const problems = [];
    for (const jws of cardsOf(input)) {
      const card = await checkCard(jws, trust, now);
      payloads.push(card.payload);
      issuer = issuer || card.issuer;
      problems.push(...card.problems);
    }
    const certificate = summarizeCard(payloads, issuer.iss, trust.labels);
    const extra = {format: FORMAT, own: !!issuer.own, text: Array.isArray(input) ? input.join('\n') : String(input)};
    if (problems.length) return {...invalid(FORMAT, problems, certificate), ...extra};
    return {...extra, status: 'valid', reasons: [], warnings: [], certificate, revocation: null};
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    const certificate = payloads.length ? summarizeCard(payloads, issuer && issuer.iss, trust && trust.labels) : null;
    return invalid(FORMAT, [reason(err.code, err.message, err.extra)], certificate);
  }
}
