// Replaces rdf-canonize's MessageDigest (node: crypto, browser: async
// crypto.subtle) with a synchronous SHA-256 from @noble/hashes, so URDNA2015
// runs synchronously and also outside secure contexts.
'use strict';
const {sha256} = require('@noble/hashes/sha2.js');
const {bytesToHex} = require('@noble/hashes/utils.js');

const encoder = new TextEncoder();

module.exports = class MessageDigest {
  constructor(algorithm) {
    if (algorithm !== 'sha256') {
      throw new Error(`Unsupported algorithm "${algorithm}".`);
    }
    this.md = sha256.create();
  }

  update(msg) {
    this.md.update(encoder.encode(msg));
  }

  digest() {
    return bytesToHex(this.md.digest());
  }
};
