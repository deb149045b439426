/**
 * Which pod an invocation is for, from CNI_ARGS (K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID).
 * Invocations without them (not from a Kubernetes runtime) are not pods outrigger manages.
 */

export interface PodIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string | null;
}

export function podIdentity(args: ReadonlyMap<string, string>): PodIdentity | null {
  const namespace = args.get('K8S_POD_NAMESPACE');
  const name = args.get('K8S_POD_NAME');
  if (!namespace || !name) return null;
  return { namespace, name, uid: args.get('K8S_POD_UID') || null };
}
