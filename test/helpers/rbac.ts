/**
 * A small RBAC evaluator for tests: maps a recorded Kubernetes API request (method and path) to its
 * verb, API group, resource, namespace and name, and decides whether rendered Roles/ClusterRoles
 * allow it, as the API server's RBAC authorizer does for resource requests (apiGroups, resources,
 * verbs, resourceNames; `*` never appears in outrigger's roles and is refused by the manifest test).
 * A GET of a collection with `watch=true` in the query is a watch, as the API server's request
 * info resolver says. Limits: no subresources, no aggregation, no non-resource URLs, list/watch
 * without names only.
 */

export interface ResourceRequest {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly namespace?: string;
  readonly name?: string;
}

export interface PolicyRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

const Verbs: Record<string, { named: string; collection: string }> = {
  GET: { named: 'get', collection: 'list' },
  POST: { named: 'create', collection: 'create' },
  PUT: { named: 'update', collection: 'update' },
  PATCH: { named: 'patch', collection: 'patch' },
  DELETE: { named: 'delete', collection: 'deletecollection' },
};

/** `/api/v1/namespaces/NS/RES[/NAME]`, `/apis/GROUP/VERSION/[namespaces/NS/]RES[/NAME]`, with the query if any. */
export function resourceRequest(method: string, path: string): ResourceRequest {
  const [pathname = '', query = ''] = path.split('?');
  const watch = method === 'GET' && ['true', '1'].includes(new URLSearchParams(query).get('watch') ?? '');
  const core = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?([^/]+)(?:\/([^/]+))?$/.exec(pathname);
  const named = /^\/apis\/([^/]+)\/[^/]+\/(?:namespaces\/([^/]+)\/)?([^/]+)(?:\/([^/]+))?$/.exec(pathname);
  const verbs = Verbs[method];
  if (!verbs) throw new Error(`no RBAC verb for ${method} ${path}`);
  if (core) {
    const [, namespace, resource = '', name] = core;
    return { verb: name ? verbs.named : watch ? 'watch' : verbs.collection, group: '', resource, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) };
  }
  if (named) {
    const [, group = '', namespace, resource = '', name] = named;
    return { verb: name ? verbs.named : watch ? 'watch' : verbs.collection, group, resource, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) };
  }
  throw new Error(`not a resource request: ${method} ${path}`);
}

export function ruleAllows(rule: PolicyRule, request: ResourceRequest): boolean {
  if (!(rule.apiGroups ?? []).includes(request.group)) return false;
  if (!(rule.resources ?? []).includes(request.resource)) return false;
  if (!rule.verbs.includes(request.verb)) return false;
  if (rule.resourceNames && rule.resourceNames.length > 0) return request.name !== undefined && rule.resourceNames.includes(request.name);
  return true;
}

/** Namespaced Role rules apply only in their namespace; ClusterRole rules everywhere. */
export function allowed(request: ResourceRequest, roles: readonly { kind: string; namespace?: string; rules: readonly PolicyRule[] }[]): boolean {
  return roles.some((role) => (role.kind === 'ClusterRole' || role.namespace === request.namespace) && role.rules.some((rule) => ruleAllows(rule, request)));
}
