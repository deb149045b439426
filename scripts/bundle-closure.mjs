// Lists the files of the esbuild bundle in dist/ that an image needs: everything reachable from
// outrigger.mjs through static and dynamic imports, without entering the modules named by
// --exclude prefixes (subcommands the image never runs). The proxy-init image uses it to leave out
// the injector, the CNI installer and their dependencies (fastify, @kubernetes/client-node), so the container
// that holds NET_ADMIN carries only what `outrigger init` runs. Reads import specifiers from the
// bundle's own output (`from"./x.mjs"`, `import("./x.mjs")`), which esbuild writes literally, and
// modules loaded by URL (`new URL("./x.mjs", import.meta.url)`: the injector's review worker).
// Usage: node scripts/bundle-closure.mjs DIST_DIR --exclude inject-command- --exclude injector-command- --exclude cni-command- --exclude explain-command-
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { exclude: { type: 'string', multiple: true, default: [] } } });
const dir = positionals[0];
if (!dir) {
  console.error('usage: bundle-closure.mjs DIST_DIR [--exclude PREFIX]...');
  process.exit(2);
}
const excluded = (file) => values.exclude.some((prefix) => file.startsWith(prefix));
const seen = new Set();
const queue = ['outrigger.mjs'];
while (queue.length > 0) {
  const file = queue.pop();
  if (seen.has(file) || excluded(file)) continue;
  seen.add(file);
  const text = readFileSync(join(dir, file), 'utf8');
  for (const match of text.matchAll(/(?:from\s*|import\s*\(\s*|import\s*|new URL\(\s*)["']\.\/([^"']+\.mjs)["']/g)) queue.push(match[1]);
}
console.log([...seen].sort().join('\n'));
