// Builds dist/outrigger-cni, the CNI plugin as one self-contained executable (nodes have no
// Node.js): esbuild bundles cni-plugin/outrigger-cni.ts into one CommonJS file, Node's single
// executable application support turns it into a blob (with V8's code cache, so the bundle is
// not compiled again on every pod start), and postject injects the blob into a copy of the
// Node 24 binary running this script. Symbols are stripped from that copy first (16 MB):
// a plugin binary copied to every node has no use for them.
//
// Run with Node 24 (`npm run build:cni` puts node_modules/.bin/node first on PATH).
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';

const major = Number(process.versions.node.split('.')[0]);
if (major !== 24) {
  console.error(`build-cni: needs Node 24 to build the single executable (this is ${process.version}); run it through npm run build:cni`);
  process.exit(1);
}

const work = 'dist/.cni-build';
const output = 'dist/outrigger-cni';
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

const bundle = join(work, 'outrigger-cni.cjs');
await build({
  entryPoints: ['cni-plugin/outrigger-cni.ts'],
  outfile: bundle,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node24',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});

function run(file, args) {
  const result = spawnSync(file, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    console.error(`build-cni: ${file} ${args.join(' ')} failed (${result.status ?? result.signal})`);
    process.exit(1);
  }
}

const blob = join(work, 'outrigger-cni.blob');
const seaConfig = join(work, 'sea-config.json');
writeFileSync(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }, null, 2));
run(process.execPath, ['--experimental-sea-config', seaConfig]);

rmSync(output, { force: true });
copyFileSync(process.execPath, output);
chmodSync(output, 0o755);
const strip = spawnSync('strip', ['--strip-all', output], { stdio: 'inherit' });
if (strip.status !== 0) console.error('build-cni: strip is not available; the executable keeps its debug symbols');
const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
run(process.execPath, [postject, output, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2']);
rmSync(work, { recursive: true, force: true });
console.log(`build-cni: ${output} (${(statSync(output).size / 1e6).toFixed(1)} MB)`);
