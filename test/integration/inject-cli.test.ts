// `outrigger inject` through the built CLI (dist/outrigger.mjs on Node 24): every workload kind
// in one multi-document YAML gets exactly reviewPod's mutation in its pod template and stays
// valid against the Kubernetes schema; other objects and comments pass through; re-running
// changes nothing; JSON in and out, also a YAML `kind: List` and a YAML stream of JSON documents;
// the webhook's warnings on stderr; bad input and denied pods exit 2 naming each document; a
// configured Envoy bootstrap override is checked against the schema the build put beside the
// bundle (exit 2 naming the field), and without that schema only a config with an override fails.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ReplicaSet } from 'kubernetes-models/apps/v1/ReplicaSet';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { ReplicationController } from 'kubernetes-models/v1/ReplicationController';
import { parseAllDocuments, stringify as stringifyYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DefaultInjectorConfig, parseInjectorConfig } from '../../injector/config/injector-config.js';
import { reviewPod } from '../../injector/mutation/review-pod.js';
import { cliPath } from '../helpers/outrigger-cli.js';
import { validateKubernetesPod } from '../helpers/injector-checks.js';

const fixtures = fileURLToPath(new URL('../fixtures/injector/manifests/', import.meta.url));
const workloadsYaml = readFileSync(`${fixtures}workloads.yaml`, 'utf8');

function inject(args: string[], stdin?: string, cli = cliPath): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, 'inject', ...args], { input: stdin, encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const yamlDocs = (text: string): Record<string, unknown>[] => parseAllDocuments(text).map((d) => d.toJS() as Record<string, unknown>);

type Obj = Record<string, any>;

const templatePath: Record<string, string[]> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};
const models: Record<string, new (data: never) => { validate(): void }> = { Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, ReplicationController };

const at = (o: Obj, path: string[]): Obj => path.reduce((n: Obj, k) => n[k], o);

let dir: string;
beforeAll(() => {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` (npm test does it)`);
  dir = mkdtempSync(join(tmpdir(), 'outrigger-inject-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('outrigger inject (built CLI)', () => {
  it('injects every workload kind exactly as reviewPod does and passes everything else through', () => {
    const run = inject(['-f', `${fixtures}workloads.yaml`]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const input = yamlDocs(workloadsYaml);
    const output = yamlDocs(run.stdout);
    expect(output).toHaveLength(input.length);
    const injectedKinds: string[] = [];
    input.forEach((before: Obj, i) => {
      const after = output[i] as Obj;
      const path = before.apiVersion === 'example.com/v1' ? undefined : before.kind === 'Pod' ? [] : templatePath[before.kind];
      if (!path) {
        expect(after, `document ${i + 1} (${before.kind}) must pass through`).toEqual(before);
        return;
      }
      const template = path.length === 0 ? before : at(before, path);
      const pod = path.length === 0 ? before : { ...(template.metadata ? { metadata: template.metadata } : {}), spec: template.spec };
      const review = reviewPod({ pod, namespace: before.metadata?.namespace ?? 'default', config: DefaultInjectorConfig });
      expect(review.kind).toBe('inject');
      if (review.kind !== 'inject') return;
      const got = path.length === 0 ? after : at(after, path);
      if (path.length === 0) expect(got).toEqual(review.pod);
      else {
        expect(got.spec).toEqual(review.pod.spec);
        expect(got.metadata).toEqual(review.pod.metadata);
        // Everything outside the template is untouched.
        const strip = (o: Obj): Obj => {
          const copy = structuredClone(o);
          const parent = at(copy, path.slice(0, -1));
          delete parent[path.at(-1) as string];
          return copy;
        };
        expect(strip(after)).toEqual(strip(before));
        const Model = models[before.kind] as new (data: never) => { validate(): void };
        new Model(after as never).validate();
      }
      validateKubernetesPod({ apiVersion: 'v1', kind: 'Pod', ...(path.length === 0 ? after : { metadata: got.metadata, spec: got.spec }) });
      injectedKinds.push(before.kind);
    });
    expect(injectedKinds.sort()).toEqual(['CronJob', 'DaemonSet', 'Deployment', 'Job', 'Pod', 'ReplicaSet', 'ReplicationController', 'StatefulSet']);
    // Comments and the documents' order survive.
    expect(run.stdout).toContain('name: settings # keep this comment');
    expect(run.stdout).toContain('app: web # the pod label');
    expect(run.stdout).toContain('image: nginx:1.27 # pinned');
    expect(run.stdout).toContain('# A custom resource that happens to be called Job');
  });

  it('changes nothing when run again over its own output (stdin)', () => {
    const first = inject(['-f', `${fixtures}workloads.yaml`]);
    const second = inject(['-f', '-'], first.stdout);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
  });

  it('reads JSON (a List) and writes JSON; --output converts YAML to a JSON List', () => {
    const input = yamlDocs(workloadsYaml);
    const listFile = join(dir, 'list.json');
    writeFileSync(listFile, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: input }));
    const fromJson = inject(['-f', listFile]);
    expect(fromJson.code).toBe(0);
    const fromYaml = inject(['-f', `${fixtures}workloads.yaml`, '--output', 'json']);
    expect(fromYaml.code).toBe(0);
    const a = JSON.parse(fromJson.stdout) as Obj;
    const b = JSON.parse(fromYaml.stdout) as Obj;
    expect(a.kind).toBe('List');
    expect(a.items).toHaveLength(input.length);
    expect(a).toEqual(b);
    expect(yamlDocs(inject(['-f', `${fixtures}workloads.yaml`]).stdout)).toEqual(b.items);
    const jsonToYaml = inject(['-f', listFile, '-o', 'yaml']);
    expect(jsonToYaml.code).toBe(0);
    expect(yamlDocs(jsonToYaml.stdout)).toEqual(b.items);
  });

  it('injects the items of a YAML `kind: List` like any other input, keeping comments', () => {
    const input = yamlDocs(workloadsYaml);
    const listYaml = `# A List as kubectl get -o yaml prints it\n${stringifyYaml({ apiVersion: 'v1', kind: 'List', items: input })}`.replace('name: settings', 'name: settings # kept');
    const run = inject(['-f', '-'], listYaml);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const [list] = yamlDocs(run.stdout) as Obj[];
    expect(list?.kind).toBe('List');
    // The same result as the documents one by one (and as a JSON List).
    expect(list?.items).toEqual(yamlDocs(inject(['-f', `${fixtures}workloads.yaml`]).stdout));
    expect(run.stdout).toContain('# A List as kubectl get -o yaml prints it');
    expect(run.stdout).toContain('name: settings # kept');
    expect(inject(['-f', '-'], run.stdout).stdout).toBe(run.stdout);
    // Items are named by document and position in messages.
    const denied = inject(['-f', '-'], stringifyYaml({ apiVersion: 'v1', kind: 'List', items: [input[0], { ...input[1], metadata: { name: 'bad', annotations: { 'traffic.sidecar.istio.io/excludeInboundPorts': 'http' } } }] }));
    expect(denied.code).toBe(2);
    expect(denied.stderr).toContain('document 1 item 2 (Pod bad) annotation traffic.sidecar.istio.io/excludeInboundPorts "http"');
  });

  it('injects a YAML stream of documents written as JSON, writing them back as JSON (or YAML with -o yaml)', () => {
    const input = yamlDocs(workloadsYaml);
    const stream = input.map((doc) => JSON.stringify(doc)).join('\n---\n');
    const run = inject(['-f', '-'], stream);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const expected = yamlDocs(inject(['-f', `${fixtures}workloads.yaml`]).stdout);
    const parts = run.stdout.split(/^---\n/m);
    expect(parts).toHaveLength(input.length);
    expect(parts.map((part) => JSON.parse(part))).toEqual(expected);
    const asYaml = inject(['-f', '-', '-o', 'yaml'], stream);
    expect(asYaml.code).toBe(0);
    expect(yamlDocs(asYaml.stdout)).toEqual(expected);
    expect(asYaml.stdout).toContain('\nkind: Deployment\n');
    const asJson = inject(['-f', '-', '-o', 'json'], stream);
    expect((JSON.parse(asJson.stdout) as Obj).items).toEqual(expected);
    // A lone document that is not valid JSON is still reported by the JSON parser.
    const broken = inject(['-f', '-'], '{"kind": "Pod", ');
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('not valid JSON');
  });

  it('prints the webhook\'s warnings on stderr, naming the document', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', labels: { 'sidecar.istio.io/inject': 'yes' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } };
    const run = inject(['-f', '-'], stringifyYaml(pod));
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('outrigger inject: document 1 (Pod web): warning: label sidecar.istio.io/inject="yes" ignored (only "true" or "false"); the default policy decides\n');
    expect(yamlDocs(run.stdout)[0]).toMatchObject({ spec: { initContainers: [{ name: 'proxy-init' }, { name: 'proxy' }] } });
  });

  it('applies --config-file and --namespace like the webhook', () => {
    const config = join(dir, 'config.yaml');
    const text = 'cniMode: true\nproxy:\n  image: registry.example.com/envoy:v1\n';
    writeFileSync(config, text);
    const run = inject(['-f', `${fixtures}workloads.yaml`, '--config-file', config, '-o', 'json']);
    expect(run.code).toBe(0);
    const deployment = (JSON.parse(run.stdout) as Obj).items[2] as Obj;
    const expected = reviewPod({ pod: { metadata: deployment.spec.template.metadata, spec: deployment.spec.template.spec }, namespace: 'shop', config: parseInjectorConfig(text, 'x') });
    expect(expected.kind).toBe('inject');
    expect(deployment.spec.template.spec.initContainers.map((c: Obj) => c.name)).toEqual(['proxy-validation', 'proxy']);
    expect(deployment.spec.template.spec.initContainers[1].image).toBe('registry.example.com/envoy:v1');
    expect(deployment.spec.template.metadata.annotations['outrigger.dev/capture-settings']).toContain('"proxyPort":"15001"');

    const system = inject(['-f', `${fixtures}workloads.yaml`, '-n', 'kube-system']);
    expect(system.code).toBe(0);
    // The Deployment names its own namespace (shop); everything else is in kube-system and skipped.
    expect(system.stderr.trim().split('\n')).toHaveLength(7);
    expect(system.stderr).toContain('document 2 (Pod single): skipped: the pod is in a system namespace');
    expect(system.stderr).not.toContain('Deployment web');
  });

  it('exits 2 and prints nothing when a pod would be denied, naming every document and cause', () => {
    const run = inject(['-f', `${fixtures}denied.yaml`]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('document 2 (Deployment typo) annotation traffic.sidecar.istio.io/includeInboundPorts "http"');
    expect(run.stderr).toContain('document 2 (Deployment typo) annotation sidecar.istio.io/interceptionMode "TPROXI"');
    expect(run.stderr).toContain('document 3 (Job as-proxy) pod .spec.containers[0] (job) pod securityContext.runAsUser "1337"');
    expect(run.stderr).not.toContain('document 1');
  });

  it('exits 2 on invalid YAML, flags and configuration, and 1 on a missing file', () => {
    const bad = inject(['-f', '-'], 'kind: Pod\nspec: [unclosed\n');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('stdin document 1');
    const flags = inject(['-f', `${fixtures}workloads.yaml`, '--output', 'xml', '--bogus']);
    expect(flags.code).toBe(2);
    expect(flags.stderr).toContain('--bogus');
    const config = join(dir, 'bad-config.yaml');
    writeFileSync(config, 'proxy:\n  image: ""\n  uid: -1\ndefaultPolicy: sometimes\n');
    const badConfig = inject(['-f', `${fixtures}workloads.yaml`, '--config-file', config]);
    expect(badConfig.code).toBe(2);
    for (const field of ['.proxy.image', '.proxy.uid', '.defaultPolicy']) expect(badConfig.stderr).toContain(`${config} ${field}`);
    const missing = inject(['-f', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.yaml');
  });

  it('checks a bootstrap override against the Envoy schema beside the bundle: exit 2 naming the field', () => {
    const override = (key: string): string =>
      `proxy:\n  bootstrapOverride:\n    stats_sinks:\n    - name: envoy.stat_sinks.statsd\n      typed_config:\n        "@type": type.googleapis.com/envoy.config.metrics.v3.StatsdSink\n        tcp_cluster_name: statsd\n        ${key}: mesh\n`;
    const good = join(dir, 'override-good.yaml');
    writeFileSync(good, override('prefix'));
    const ok = inject(['-f', `${fixtures}workloads.yaml`, '--config-file', good, '-o', 'json']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('envoy.stat_sinks.statsd');

    const bad = join(dir, 'override-bad.yaml');
    writeFileSync(bad, override('prefx'));
    const refused = inject(['-f', `${fixtures}workloads.yaml`, '--config-file', bad]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(`${bad} .proxy.bootstrapOverride.stats_sinks[0].typed_config.prefx "mesh": unknown field "prefx" in envoy.config.metrics.v3.StatsdSink (did you mean "prefix"?)`);

    // A bundle without its schema: a config without an override never reads it; one with an
    // override is refused with the way out, never let through unchecked.
    const bare = join(dir, 'dist-without-schema');
    mkdirSync(bare);
    for (const file of readdirSync(join(cliPath, '..')).filter((f) => f.endsWith('.mjs'))) copyFileSync(join(cliPath, '..', file), join(bare, file));
    const plain = join(dir, 'plain.yaml');
    writeFileSync(plain, 'proxy:\n  image: registry.example.com/envoy:v1\n');
    expect(inject(['-f', `${fixtures}workloads.yaml`, '--config-file', plain], undefined, join(bare, 'outrigger.mjs')).code).toBe(0);
    const noSchema = inject(['-f', `${fixtures}workloads.yaml`, '--config-file', good], undefined, join(bare, 'outrigger.mjs'));
    expect(noSchema.code).toBe(1);
    expect(noSchema.stderr).toContain(`${join(bare, 'envoy-schema.json')} cannot be read (ENOENT)`);
    expect(noSchema.stderr).toContain('npm run build');
  });
});
