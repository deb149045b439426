// Bundles the CLI into dist/ with esbuild: one small entry chunk plus lazily loaded chunks per
// subcommand, so start-up parses only what the invoked command needs.
// CommonJS dependencies bundled into ESM still call require() for Node built-ins, so a chunk
// that mentions `require` gets a module-scoped one (createRequire). Only those chunks: the line
// loads node:module and builds a require function per chunk, ~1 ms of every `outrigger init`,
// whose chunks never use it. The test is by word, so a false match only adds an unused line.
// Then dist/envoy-schema.json: the compact Envoy API schema the injector checks a configured
// bootstrap override against, generated from the devDependency's protos (generate-envoy-schema.ts)
// so nothing at runtime needs them; read only by the injector, never part of the proxy-init image.
import { build } from 'esbuild';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateEnvoySchema, renderEnvoySchema } from './generate-envoy-schema.ts';

const requireLine = "import { createRequire as __outriggerRequire } from 'node:module'; const require = __outriggerRequire(import.meta.url);\n";

await rm(new URL('../dist', import.meta.url), { recursive: true, force: true });
const result = await build({
  // The injector's review worker is a second entry: a worker thread loads it by file (see
  // injector/server/review-worker-client.ts); shared code stays in common chunks.
  entryPoints: { outrigger: 'cli/outrigger.ts', 'injector-review-worker': 'injector/server/review-worker.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  minifySyntax: true,
  legalComments: 'linked',
  logLevel: 'warning',
  write: false,
});
for (const file of result.outputFiles) {
  let text = file.text;
  if (file.path.endsWith('.mjs') && /\brequire\b/.test(text)) {
    // After a shebang line (the entry chunk keeps cli/outrigger.ts's), else first.
    const at = text.startsWith('#!') ? text.indexOf('\n') + 1 : 0;
    text = `${text.slice(0, at)}${requireLine}${text.slice(at)}`;
  }
  await mkdir(dirname(file.path), { recursive: true });
  await writeFile(file.path, text, { mode: text.startsWith('#!') ? 0o755 : 0o644 });
}
await writeFile(new URL('../dist/envoy-schema.json', import.meta.url), renderEnvoySchema(generateEnvoySchema()), { mode: 0o644 });
