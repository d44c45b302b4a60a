// jsonld/lib/util.js requires the whole of rdf-canonize only for
// IdentifierIssuer; canon.js uses URDNA2015Sync directly.
'use strict';
module.exports = {IdentifierIssuer: require('rdf-canonize/lib/IdentifierIssuer.js')};
