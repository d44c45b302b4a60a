// QR decoding to raw bytes with zxing-wasm (ZXing C++ compiled to WASM).
// jsQR was measured first: on a ~900-byte DIVOC payload (version 24) it
// failed at < 3 px per module, at 2 and 45 degrees of rotation and with mild
// blur, where ZXing read every image, 5-10x faster.  The .wasm is fetched
// from our own static files (never the package's CDN default), lazily, on
// the first decode.
import {prepareZXingModule, readBarcodes} from 'zxing-wasm/reader';

let wasmUrl = null;
let prepared = null;

export class QRError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** Where the decoder's .wasm lives (default: next to this script). */
export function setWasmUrl(url) {
  wasmUrl = url;
  prepared = null;
}

function defaultWasmUrl() {
  if (typeof document !== 'undefined') {
    const script = document.currentScript || document.querySelector('script[src*="divoc-verifier"]');
    if (script && script.src) return new URL('zxing_reader.wasm', script.src).href;
  }
  return 'zxing_reader.wasm';
}

const CURRENT_SCRIPT_WASM = typeof document !== 'undefined' ? defaultWasmUrl() : null;

function ensureModule() {
  if (!prepared) {
    const url = wasmUrl || CURRENT_SCRIPT_WASM || 'zxing_reader.wasm';
    prepared = prepareZXingModule({
      overrides: {locateFile: (path, prefix) => (path.endsWith('.wasm') ? url : prefix + path)},
      fireImmediately: true,
    }).catch((err) => {
      prepared = null;
      throw new QRError('decoder_unavailable', `the QR decoder could not be loaded: ${err.message || err}`);
    });
  }
  return prepared;
}

/** Start fetching and compiling the decoder (e.g. when the camera opens). */
export function preloadDecoder() {
  return ensureModule().then(() => true, () => false);
}

const READER_OPTIONS = {
  formats: ['QRCode'],
  tryHarder: true,
  tryRotate: true,
  tryInvert: false,
  tryDownscale: true,
  maxNumberOfSymbols: 1,
};

async function read(image, options) {
  await ensureModule();
  try {
    return await readBarcodes(image, options);
  } catch (err) {
    throw new QRError('unreadable_qr', `the image could not be read: ${err.message || err}`);
  }
}

/**
 * The raw bytes of every QR code in an image, top to bottom (the chunks of a
 * SMART Health Card too long for one code are printed one under the other).
 */
export async function decodeQRAll(image) {
  const results = await read(image, {...READER_OPTIONS, maxNumberOfSymbols: 16});
  return results.filter((r) => r.isValid && r.bytes && r.bytes.length)
    .sort((a, b) => a.position.topLeft.y - b.position.topLeft.y)
    .map((r) => new Uint8Array(r.bytes));
}

/**
 * The raw bytes in the QR code of an ImageData (or {data, width, height}),
 * a Blob/File (PNG, JPEG...) or an ArrayBuffer of an encoded image.
 * Resolves to a Uint8Array, or null when no QR code is found.
 */
export async function decodeQR(image) {
  const results = await read(image, READER_OPTIONS);
  const hit = results.find((r) => r.isValid && r.bytes && r.bytes.length);
  return hit ? new Uint8Array(hit.bytes) : null;
}
