/**
 * The AdmissionReview wire types of `admission.k8s.io/v1` and `v1beta1` (the two share one shape;
 * only `apiVersion` differs, and v1 requires `request.uid`). Written from the Kubernetes API
 * reference because @kubernetes/client-node has no AdmissionReview model. Only what outrigger
 * reads or writes is typed precisely; the rest is kept as `unknown`.
 */

export const AdmissionApiVersions = {
  v1: 'admission.k8s.io/v1',
  v1beta1: 'admission.k8s.io/v1beta1',
} as const;
export type AdmissionApiVersion = (typeof AdmissionApiVersions)[keyof typeof AdmissionApiVersions];

export const AdmissionOperations = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as const;
export type AdmissionOperation = (typeof AdmissionOperations)[number];

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

export interface GroupVersionResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
}

export interface AdmissionUserInfo {
  readonly username?: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

export interface AdmissionRequest {
  /** Identifies this admission call; echoed in the response. */
  readonly uid: string;
  /** The kind of the object as submitted (after conversion to the webhook's registered version). */
  readonly kind: GroupVersionKind;
  readonly resource: GroupVersionResource;
  readonly subResource?: string;
  readonly requestKind?: GroupVersionKind;
  readonly requestResource?: GroupVersionResource;
  readonly requestSubResource?: string;
  /** Empty on CREATE when the object uses generateName. */
  readonly name?: string;
  /** The namespace of the request; a Pod's own metadata.namespace is often unset on CREATE. */
  readonly namespace?: string;
  readonly operation: AdmissionOperation;
  readonly userInfo: AdmissionUserInfo;
  readonly object?: unknown;
  readonly oldObject?: unknown;
  readonly dryRun?: boolean;
  readonly options?: unknown;
}

/** The subset of metav1.Status an admission response carries. */
export interface AdmissionStatus {
  readonly status: 'Success' | 'Failure';
  readonly message: string;
  /** A CamelCase machine-readable reason (metav1.StatusReason), e.g. `Forbidden`. */
  readonly reason: string;
  /** An HTTP-like code the API server reports to the client (defaults to 403 when absent). */
  readonly code: number;
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: AdmissionStatus;
  /** Base64 of an RFC 6902 JSON Patch document. */
  readonly patch?: string;
  readonly patchType?: 'JSONPatch';
  readonly auditAnnotations?: Readonly<Record<string, string>>;
  readonly warnings?: readonly string[];
}

export interface AdmissionReviewRequest {
  readonly apiVersion: AdmissionApiVersion;
  readonly kind: 'AdmissionReview';
  readonly request: AdmissionRequest;
}

export interface AdmissionReviewResponse {
  readonly apiVersion: AdmissionApiVersion;
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}
