/**
 * CNI_ARGS: `KEY=VALUE;KEY=VALUE` pairs the runtime passes (Kubernetes runtimes send
 * K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID, K8S_POD_INFRA_CONTAINER_ID and IgnoreUnknown).
 * Pure parsing; a pair without `=` is refused with its text.
 */

export function parseCniArgs(text: string): { ok: true; value: Map<string, string> } | { ok: false; reason: string } {
  const pairs = new Map<string, string>();
  for (const item of text.split(';')) {
    if (item.trim() === '') continue;
    const at = item.indexOf('=');
    if (at <= 0) return { ok: false, reason: `${JSON.stringify(item)} is not KEY=VALUE` };
    pairs.set(item.slice(0, at), item.slice(at + 1));
  }
  return { ok: true, value: pairs };
}
