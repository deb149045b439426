/**
 * Where each workload kind keeps its pod: the Pod itself, or the pod template of a Deployment,
 * StatefulSet, DaemonSet, ReplicaSet, Job, ReplicationController or CronJob. Only the built-in
 * API groups count (a custom resource that happens to be called `Job` is passed through).
 */

export type ObjectPath = readonly (string | number)[];

const Template: ObjectPath = ['spec', 'template'];

/** Kind -> API groups it is built into ('' is the core group) and the path to its pod. */
const Workloads: Readonly<Record<string, { readonly groups: readonly string[]; readonly pod: ObjectPath }>> = {
  Pod: { groups: [''], pod: [] },
  ReplicationController: { groups: [''], pod: Template },
  Deployment: { groups: ['apps', 'extensions'], pod: Template },
  StatefulSet: { groups: ['apps'], pod: Template },
  DaemonSet: { groups: ['apps', 'extensions'], pod: Template },
  ReplicaSet: { groups: ['apps', 'extensions'], pod: Template },
  Job: { groups: ['batch'], pod: Template },
  CronJob: { groups: ['batch'], pod: ['spec', 'jobTemplate', 'spec', 'template'] },
};

export const WorkloadKinds: readonly string[] = Object.keys(Workloads);

/** The path to the object's pod (template), or undefined for anything that has none. */
export function podPathOf(apiVersion: unknown, kind: unknown): ObjectPath | undefined {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return undefined;
  const workload = Workloads[kind];
  if (!workload) return undefined;
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  return workload.groups.includes(group) ? workload.pod : undefined;
}
