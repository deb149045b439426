/**
 * Applies RFC 6902 operations (as reviewPod produces: add, remove, replace) to a parsed YAML
 * document under a base path, editing the YAML nodes in place so comments, key order and styles
 * outside the changed nodes survive. Throws an Internal error if a path does not exist, which
 * cannot happen for a patch computed from the same document.
 */

import { type Document, isMap, isScalar, isSeq, type Node } from 'yaml';
import { ErrorCodes, OutriggerError } from '../../common/errors.js';
import type { JsonPatchOperation } from '../kube/pod-types.js';
import type { ObjectPath } from './workload-kinds.js';

function unescape(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

function fail(message: string): never {
  throw new OutriggerError(ErrorCodes.Internal, `cannot apply the patch to the YAML document: ${message}`);
}

function child(node: unknown, key: string | number): unknown {
  if (isSeq(node)) return node.items[Number(key)];
  if (isMap(node)) return node.get(String(key), true);
  return undefined;
}

export function applyPatchToYaml(doc: Document, base: ObjectPath, patch: readonly JsonPatchOperation[]): void {
  for (const op of patch) {
    if (op.op !== 'add' && op.op !== 'remove' && op.op !== 'replace') fail(`unexpected operation ${op.op}`);
    const segments = [...base.map(String), ...op.path.split('/').slice(1).map(unescape)];
    const last = segments.pop();
    if (last === undefined) fail('empty path');
    let parent: unknown = doc.contents;
    for (const segment of segments) {
      parent = child(parent, segment);
      if (parent === undefined || isScalar(parent)) fail(`no collection at ${op.path}`);
    }
    const value = (): Node => doc.createNode((op as { value: unknown }).value) as Node;
    if (isSeq(parent)) {
      const index = last === '-' ? parent.items.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > parent.items.length) fail(`bad index in ${op.path}`);
      if (op.op === 'add') parent.items.splice(index, 0, value());
      else if (op.op === 'remove') parent.items.splice(index, 1);
      else parent.items[index] = value();
    } else if (isMap(parent)) {
      if (op.op === 'remove') parent.delete(last);
      else parent.set(last, value());
    } else fail(`no collection at ${op.path}`);
  }
}
