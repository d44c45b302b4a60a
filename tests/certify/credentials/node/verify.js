// Test helper: verify credentials with DIVOC's own signer library.
//
// stdin: {"groups": [{"config": {...setDocumentLoader config...},
//                     "contexts": {"<url>": "v1" | "v2"},
//                     "documents": {"<url>": {...JSON-LD document...}},  (optional)
//                     "credentials": [ ... ]}]}
// stdout: one JSON line {"results": [[{"verified": bool, "error": str|null}, ...], ...]}
//
// The vaccination contexts come from the `vaccination-context` npm package
// (not from our bundled copies) so the check is independent of our files.
// Other contexts (e.g. DIVOC's test-certificate context, which that package
// does not ship) are passed as whole documents in "documents".
'use strict';

const realWrite = process.stdout.write.bind(process.stdout);
// signer.js logs every document it loads; keep stdout clean for the JSON line.
console.log = () => {};
console.info = () => {};
console.warn = () => {};

const {setDocumentLoader, verifyJSON} = require('certificate-signer-library/signer');
const {vaccinationContext, vaccinationContextV2} = require('vaccination-context');

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function describe(error) {
  if (!error) return null;
  if (Array.isArray(error)) return error.map(describe).join('; ');
  if (error.errors) return describe(error.errors);
  return String(error && (error.stack || error.message) || error).split('\n')[0];
}

async function main() {
  const input = JSON.parse(await readStdin());
  const out = [];
  for (const group of input.groups) {
    const mapping = {};
    for (const [url, which] of Object.entries(group.contexts || {})) {
      mapping[url] = which === 'v1' ? vaccinationContext : vaccinationContextV2;
    }
    Object.assign(mapping, group.documents || {});
    setDocumentLoader(mapping, group.config);
    const results = [];
    for (const credential of group.credentials) {
      try {
        const result = await verifyJSON(credential);
        results.push({verified: !!(result && result.verified), error: describe(result && result.error)});
      } catch (e) {
        results.push({verified: false, error: describe(e)});
      }
    }
    out.push(results);
  }
  realWrite(JSON.stringify({results: out}) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(2);
});
