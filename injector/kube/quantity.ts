/**
 * Kubernetes resource quantities (`100m`, `128Mi`, `1.5`, `1e3`): the syntax only. Whether a
 * request exceeds its limit is left to the API server, which says so in its own words.
 */

const QuantityPattern = /^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$/;

export function isQuantity(text: string): boolean {
  return QuantityPattern.test(text);
}
