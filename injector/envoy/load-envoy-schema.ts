/**
 * Finds and reads the compact Envoy schema (envoy-schema.ts) that `npm run build` writes next to
 * the bundle: dist/envoy-schema.json beside the chunk that runs (the outrigger image copies dist/),
 * or the repository's dist/ when this file runs from source (vitest). Read once per process and
 * only when asked, i.e. only for a configuration with a bootstrap override: an injector without
 * one never reads it.
 *
 * A missing or unreadable schema is an error (ReadFailed) that says to run `npm run build`: the
 * override is never let through unchecked.
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, OutriggerError } from '../../common/errors.js';
import { type EnvoySchema, EnvoySchemaFileName, EnvoySchemaFormat } from './envoy-schema.js';

/** Where the schema is: beside the bundle chunk, or in the repository's dist/ from source. */
export function envoySchemaPath(moduleUrl: string = import.meta.url): string {
  const fromSource = moduleUrl.endsWith('.ts');
  return fileURLToPath(new URL(fromSource ? `../../dist/${EnvoySchemaFileName}` : `./${EnvoySchemaFileName}`, moduleUrl));
}

const loaded = new Map<string, EnvoySchema>();

export function loadEnvoySchema(path: string = envoySchemaPath()): EnvoySchema {
  const cached = loaded.get(path);
  if (cached) return cached;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unknown';
    throw new OutriggerError(ErrorCodes.ReadFailed, `cannot check proxy.bootstrapOverride: the Envoy API schema ${path} cannot be read (${code}); it is made by \`npm run build\`, run it (the outrigger image must carry dist/${EnvoySchemaFileName})`, { cause: error });
  }
  let schema: EnvoySchema;
  try {
    schema = JSON.parse(text) as EnvoySchema;
  } catch (error) {
    throw new OutriggerError(ErrorCodes.ReadFailed, `cannot check proxy.bootstrapOverride: the Envoy API schema ${path} is not JSON; rebuild it with \`npm run build\``, { cause: error });
  }
  if (schema?.format !== EnvoySchemaFormat) {
    throw new OutriggerError(ErrorCodes.ReadFailed, `cannot check proxy.bootstrapOverride: ${path} is not an ${EnvoySchemaFormat} schema; rebuild it with \`npm run build\``);
  }
  loaded.set(path, schema);
  return schema;
}
