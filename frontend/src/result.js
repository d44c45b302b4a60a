// The shape every verification result has, whatever the format:
//   {status: 'valid'|'revoked'|'suspended'|'invalid', format: 'divoc'|'eu-dcc'|'shc',
//    reasons: [{code, message, ...}], warnings: [{code, message, ...}],
//    certificate: {...} | null, revocation: {...} | null}

export const reason = (code, message, extra) => ({code, message, ...(extra || {})});

/** An 'invalid' result with its reasons (and what could be read of the certificate). */
export function invalid(format, reasons, certificate = null) {
  return {status: 'invalid', format, reasons, warnings: [], certificate, revocation: null};
}

/** A verification problem: `code` picks the translated message on the page. */
export class Invalid extends Error {
  constructor(code, message, extra) {
    super(message);
    this.code = code;
    this.extra = extra || {};
  }
}

export const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
export const text = (v) => (v === undefined || v === null ? '' : typeof v === 'object' ? '' : String(v));

/** The WebCrypto API, or an error the page explains (it needs a secure context). */
export function subtleCrypto() {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (!subtle) throw new Invalid('crypto_unavailable', 'checking this signature needs WebCrypto (open this page over HTTPS)');
  return subtle;
}
