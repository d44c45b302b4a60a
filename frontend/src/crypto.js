// Signature primitives: Ed25519 (@noble/ed25519, synchronous SHA-512 from
// @noble/hashes, so it works without WebCrypto) and RSASSA-PSS SHA-256 with a
// 32-byte salt (WebCrypto; DIVOC's PS256).
import * as ed from '@noble/ed25519';
import {sha256, sha512} from '@noble/hashes/sha2.js';

ed.hashes.sha512 = sha512;

export {sha256};

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

export function base58Decode(text) {
  if (typeof text !== 'string' || !text) throw new Error('empty base58 value');
  const bytes = []; // little-endian
  for (const ch of text) {
    let carry = B58.indexOf(ch);
    if (carry < 0) throw new Error('invalid base58 character');
    for (let i = 0; i < bytes.length; i++) {
      carry += bytes[i] * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry) { bytes.push(carry & 0xff); carry >>= 8; }
  }
  for (let i = 0; i < text.length && text[i] === '1'; i++) bytes.push(0);
  return new Uint8Array(bytes.reverse());
}

export function base64UrlDecode(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('invalid base64url');
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
  const bin = atob(b64);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function verifyEd25519(signature, message, publicKeyBase58) {
  const pub = base58Decode(publicKeyBase58);
  if (pub.length !== 32) throw new Error(`Ed25519 public key is ${pub.length} bytes, not 32`);
  if (signature.length !== 64) return false;
  try {
    return ed.verify(signature, message, pub);
  } catch (_) {
    return false;
  }
}

function pemBody(pem) {
  const m = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(pem || '');
  if (!m) throw new Error('not a PEM public key');
  return {label: m[1], der: Uint8Array.from(atob(m[2].replace(/\s+/g, '')), (c) => c.charCodeAt(0))};
}

function derLength(n) {
  if (n < 0x80) return [n];
  const out = [];
  while (n) { out.unshift(n & 0xff); n >>= 8; }
  return [0x80 | out.length, ...out];
}

/** Wrap a PKCS#1 RSAPublicKey in a SubjectPublicKeyInfo. */
function pkcs1ToSpki(pkcs1) {
  const algId = [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
  const bitString = [0x03, ...derLength(pkcs1.length + 1), 0x00];
  const inner = algId.length + bitString.length + pkcs1.length;
  return concatBytes(new Uint8Array([0x30, ...derLength(inner), ...algId, ...bitString]), pkcs1);
}

const rsaKeys = new Map();

export async function verifyRsaPss(signature, message, publicKeyPem) {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (!subtle) {
    const err = new Error('RSA verification needs WebCrypto (open this page over HTTPS)');
    err.code = 'crypto_unavailable';
    throw err;
  }
  let key = rsaKeys.get(publicKeyPem);
  if (!key) {
    const {label, der} = pemBody(publicKeyPem);
    const spki = label === 'RSA PUBLIC KEY' ? pkcs1ToSpki(der) : der;
    key = await subtle.importKey('spki', spki, {name: 'RSA-PSS', hash: 'SHA-256'}, false, ['verify']);
    rsaKeys.set(publicKeyPem, key);
  }
  return subtle.verify({name: 'RSA-PSS', saltLength: 32}, key, signature, message);
}
