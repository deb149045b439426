/**
 * `outrigger inject -f FILE|-`: the webhook's mutation applied offline to manifests (like
 * `istioctl kube-inject`). Prints the result on stdout and, on stderr, one line per workload
 * that was not injected and why, and one per warning (the webhook's AdmissionResponse warnings). Exit codes: 0 done; 2 invalid flags, configuration or
 * manifests, or a pod the webhook would deny (every cause named, nothing printed); 1 a file
 * could not be read.
 */

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ErrorCodes, type FieldProblem, invalidInput, isOutriggerError, OutriggerError } from '../../common/errors.js';
import { DefaultInjectorConfig, type InjectorConfig, parseInjectorConfig } from '../config/injector-config.js';
import { describeOutcome, describeWarnings, injectManifests, type ManifestFormat } from './inject-manifests.js';
import { WorkloadKinds } from './workload-kinds.js';

const Usage = `Usage: outrigger inject -f FILE|- [options]

Adds the proxy to every Pod and pod template (${WorkloadKinds.join(', ')}) in multi-document
YAML or JSON, also inside a List, exactly as the admission webhook would; other objects pass
through unchanged. The webhook's warnings are printed on stderr.

Options:
  -f, --filename FILE     manifests to read; "-" reads stdin (required)
      --config-file FILE  injector configuration (YAML, as in the webhook's ConfigMap); default: built-in defaults
  -o, --output FORMAT     yaml or json (default: the input's format)
  -n, --namespace NS      namespace of objects that name none (default "default"); decides system-namespace skips
  -h, --help              show this help

Exit codes: 0 done; 2 invalid input or a pod the webhook would refuse (nothing printed); 1 a file could not be read.
`;

async function readSource(path: string, what: string): Promise<string> {
  try {
    if (path === '-') {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    }
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new OutriggerError(ErrorCodes.ReadFailed, `cannot read ${what} ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

export async function run(argv: readonly string[], _env: NodeJS.ProcessEnv): Promise<number> {
  let flagsRead = false;
  try {
    let values;
    try {
      ({ values } = parseArgs({
        args: [...argv],
        options: {
          filename: { type: 'string', short: 'f' },
          'config-file': { type: 'string' },
          output: { type: 'string', short: 'o' },
          namespace: { type: 'string', short: 'n' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (error) {
      throw invalidInput([{ source: 'arguments', value: argv.join(' '), reason: error instanceof Error ? error.message : String(error) }], 'flags');
    }
    if (values.help) {
      process.stdout.write(Usage);
      return 0;
    }
    const problems: FieldProblem[] = [];
    if (values.filename === undefined || values.filename === '') problems.push({ source: '--filename', value: '', reason: 'is required (a file, or - for stdin)' });
    if (values.output !== undefined && values.output !== 'yaml' && values.output !== 'json') problems.push({ source: '--output', value: values.output, reason: 'must be yaml or json' });
    if (values.namespace !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(values.namespace)) problems.push({ source: '--namespace', value: values.namespace, reason: 'must be a namespace name (DNS-1123 label)' });
    if (problems.length > 0) throw invalidInput(problems, 'flags');
    flagsRead = true;

    const configFile = values['config-file'];
    const config: InjectorConfig = configFile === undefined ? DefaultInjectorConfig : parseInjectorConfig(await readSource(configFile, 'configuration'), configFile);
    const filename = values.filename as string;
    const text = await readSource(filename, 'manifests');
    const result = injectManifests({
      text,
      config,
      namespace: values.namespace ?? 'default',
      source: filename === '-' ? 'stdin' : filename,
      ...(values.output ? { output: values.output as ManifestFormat } : {}),
    });
    process.stdout.write(result.text);
    for (const outcome of result.outcomes) {
      if (outcome.result === 'skipped') process.stderr.write(`outrigger inject: ${describeOutcome(outcome)}\n`);
      for (const line of describeWarnings(outcome)) process.stderr.write(`outrigger inject: ${line}\n`);
    }
    return 0;
  } catch (error) {
    if (!isOutriggerError(error)) throw error;
    process.stderr.write(`outrigger inject: ${error.message}\n${flagsRead ? '' : `\n${Usage}`}`);
    return error.code === ErrorCodes.InvalidInput ? 2 : error.code === ErrorCodes.Internal ? 70 : 1;
  }
}
