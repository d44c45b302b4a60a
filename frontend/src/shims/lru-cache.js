// jsonld requires lru-cache@6 (and yallist) only to cache resolved contexts.
// The verifier resolves a handful of trusted contexts; a small Map will do.
'use strict';

module.exports = class LRU {
  constructor(options) {
    this.max = (options && options.max) || 100;
    this.map = new Map();
  }

  get(key) {
    if (!this.map.has(key)) return undefined;
    const value = this.map.get(key);
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  set(key, value) {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value);
    return true;
  }

  has(key) {
    return this.map.has(key);
  }
};
