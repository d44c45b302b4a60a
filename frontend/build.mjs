// Builds static/vendor/divoc-verifier.js (+ the QR decoder's .wasm and the
// third-party licences) from src/.  Usage: npm ci && node build.mjs
import {analyzeMetafile, build} from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '..', 'static', 'vendor');
fs.mkdirSync(out, {recursive: true});

// Swap heavy or platform-specific internals for small shims.
const shims = {
  name: 'shims',
  setup(b) {
    b.onResolve({filter: /^lru-cache$/}, () => ({path: path.join(here, 'src/shims/lru-cache.js')}));
    b.onResolve({filter: /^rdf-canonize$/}, () => ({path: path.join(here, 'src/shims/rdf-canonize-lite.js')}));
    b.onResolve({filter: /^\.\/MessageDigest(\.js)?$/}, (args) =>
      args.importer.includes(`${path.sep}rdf-canonize${path.sep}`)
        ? {path: path.join(here, 'src/shims/message-digest.js')}
        : undefined);
    // Never load the decoder from the package's CDN default: fail loudly instead.
    b.onLoad({filter: /zxing-wasm[\\/]dist[\\/]es[\\/]share\.js$/}, async (args) => {
      const src = await fs.promises.readFile(args.path, 'utf8');
      const cdn = /`https:\/\/fastly\.jsdelivr\.net\/npm\/zxing-wasm@[^`]*`/;
      if (!cdn.test(src)) throw new Error('zxing-wasm: CDN default not found; check the locateFile patch');
      return {contents: src.replace(cdn, '(() => { throw new Error("zxing wasm URL not configured"); })()'), loader: 'js'};
    });
  },
};

const result = await build({
  entryPoints: [path.join(here, 'src/index.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  globalName: 'DivocVerifier',
  platform: 'browser',
  target: ['es2020'],
  outfile: path.join(out, 'divoc-verifier.js'),
  legalComments: 'none',
  metafile: true,
  plugins: [shims],
  logLevel: 'warning',
});
if (process.env.ANALYZE) console.log(await analyzeMetafile(result.metafile));

// The decoder's WebAssembly, served from our own static files.
const wasm = path.join(here, 'node_modules', 'zxing-wasm', 'dist', 'reader', 'zxing_reader.wasm');
fs.copyFileSync(wasm, path.join(out, 'zxing_reader.wasm'));

// Licences of every package in the bundle.
const pkgs = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input.split(path.sep).join('/'));
  if (!m) continue;
  const dir = path.join(here, input.slice(0, input.lastIndexOf('node_modules/' + m[1]) + ('node_modules/' + m[1]).length));
  if (!pkgs.has(m[1])) pkgs.set(m[1], dir);
}
let notice = 'Third-party software in divoc-verifier.js and zxing_reader.wasm\n' +
  '(built by frontend/build.mjs; versions pinned in frontend/package-lock.json)\n';
for (const [name, dir] of [...pkgs].sort()) {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const lic = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  notice += `\n${'='.repeat(72)}\n${name}@${meta.version} (${meta.license})\n${'='.repeat(72)}\n`;
  notice += lic ? fs.readFileSync(path.join(dir, lic), 'utf8').trim() + '\n' : `(no licence file shipped; package.json says ${meta.license})\n`;
}
notice += `\n${'='.repeat(72)}\nzxing-cpp (compiled into zxing_reader.wasm; Apache-2.0), https://github.com/zxing-cpp/zxing-cpp\n${'='.repeat(72)}\n`;
fs.writeFileSync(path.join(out, 'divoc-verifier.LICENSES.txt'), notice);

for (const f of ['divoc-verifier.js', 'zxing_reader.wasm']) {
  const buf = fs.readFileSync(path.join(out, f));
  const gz = zlib.gzipSync(buf, {level: 9}).length;
  console.log(`${f}: ${(buf.length / 1024).toFixed(1)} KiB, ${(gz / 1024).toFixed(1)} KiB gzipped`);
}
console.log('bundled packages:', [...pkgs.keys()].sort().join(', '));
