// URDNA2015 canonical N-Quads, offline, compatible with DIVOC's verifier.
//
// DIVOC's verifier (jsonld-signatures 6 -> jsonld 2.0.2 -> rdf-canonize
// 1.2.0) escapes only " \ LF CR in literals.  rdf-canonize >= 4 (RDFC-1.0,
// used by jsonld >= 9) also escapes TAB and other control characters, so a
// name containing a TAB would hash differently.  rdf-canonize 3.4.0 (jsonld
// 8.3.3) still escapes like 1.2.0; we use it, and only the parts of jsonld
// that JSON-LD -> RDF needs (expand + toRdf), with a document loader that
// answers from the trust document and never touches the network.
'use strict';

const {expand} = require('jsonld/lib/expand.js');
const {toRDF} = require('jsonld/lib/toRdf.js');
const {getInitialContext} = require('jsonld/lib/context.js');
const ContextResolver = require('jsonld/lib/ContextResolver.js');
const LRU = require('lru-cache');
const URDNA2015Sync = require('rdf-canonize/lib/URDNA2015Sync.js');

// DIVOC credentials have a few blank nodes, all told apart by their first
// degree hash; this bounds the work a crafted "poison" graph can cause.
const MAX_DEEP_ITERATIONS = 16;

export class CanonError extends Error {
  constructor(code, message, details) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

/** A JSON-LD document loader over a {url: document} map (no network). */
export function staticLoader(contexts) {
  return async (url) => {
    if (Object.prototype.hasOwnProperty.call(contexts, url)) {
      return {contextUrl: null, documentUrl: url, document: contexts[url]};
    }
    throw new CanonError('unknown_context', `unknown JSON-LD context ${url}`, {url});
  };
}

/**
 * Canonical N-Quads (URDNA2015) of a JSON-LD document, as jsonld.canonize
 * in jsonld 2 does it (no safe mode: terms the contexts do not define are
 * dropped, as DIVOC's verifier and pyld drop them).  `events` collects the
 * processor's warnings (e.g. dropped properties).
 */
export async function canonize(doc, {documentLoader, sharedCache, events} = {}) {
  const options = {
    base: '',
    documentLoader,
    keepFreeFloatingNodes: false,
    produceGeneralizedRdf: false,
    contextResolver: new ContextResolver({sharedCache: sharedCache || new LRU({max: 100})}),
    eventHandler: [({event, next}) => { if (events) events.push(event); next(); }],
  };
  let expanded;
  try {
    expanded = await expand({
      activeCtx: getInitialContext(options),
      element: JSON.parse(JSON.stringify(doc)),
      options,
    });
  } catch (err) {
    throw asCanonError(err);
  }
  if (expanded && typeof expanded === 'object' && !Array.isArray(expanded) &&
      '@graph' in expanded && Object.keys(expanded).length === 1) {
    expanded = expanded['@graph'];
  } else if (expanded === null) {
    expanded = [];
  }
  if (!Array.isArray(expanded)) expanded = [expanded];
  try {
    const dataset = toRDF(expanded, options);
    return new URDNA2015Sync({maxDeepIterations: MAX_DEEP_ITERATIONS}).main(dataset);
  } catch (err) {
    throw asCanonError(err);
  }
}

function asCanonError(err) {
  if (err instanceof CanonError) return err;
  // jsonld wraps loader failures: dig out ours.
  for (let e = err, i = 0; e && i < 6; e = e.details && e.details.cause, i++) {
    if (e instanceof CanonError) return e;
  }
  const message = (err && err.message) || String(err);
  return new CanonError('canonicalization_failed', `cannot canonicalise the credential: ${message}`);
}
