// Validates rendered objects against the Kubernetes API schemas (OpenAPI of Kubernetes 1.27, as
// compiled by the kubernetes-models package) and the Prometheus Operator CRDs. The compiled schemas
// check types, required fields and enums; they let unknown fields through, so the structural
// rules in rules.mjs check the fields this project relies on by name.

// apiVersion → the module that holds its models. An apiVersion not listed is an error: every
// object we ship must be checked against some schema.
const MODULES = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "autoscaling/v2": "kubernetes-models/autoscaling/v2",
  "policy/v1": "kubernetes-models/policy/v1",
  "networking.k8s.io/v1": "kubernetes-models/networking.k8s.io/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};

// What the API server checks on names and labels (and the schemas do not).
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkLabels(labels, where, errors) {
  for (const [key, value] of Object.entries(labels ?? {})) {
    const slash = key.lastIndexOf("/");
    const prefix = slash >= 0 ? key.slice(0, slash) : "";
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if ((prefix && (!DNS1123_SUBDOMAIN.test(prefix) || prefix.length > 253)) || !LABEL_NAME.test(name) || name.length > 63) {
      errors.push(`${where}: invalid label key '${key}'`);
    }
    if (typeof value !== "string" || value.length > 63 || !LABEL_VALUE.test(value)) {
      errors.push(`${where}: invalid value '${value}' for label '${key}' (a string of at most 63 [A-Za-z0-9._-])`);
    }
  }
}

// Returns a list of error strings, empty when every object is valid.
export async function validateSchemas(objects) {
  const errors = [];
  for (const obj of objects) {
    const where = `${obj?.kind ?? "?"} ${obj?.metadata?.name ?? "?"}`;
    const module = MODULES[obj?.apiVersion];
    if (!module) {
      errors.push(`${where}: no schema for apiVersion '${obj?.apiVersion}' (known: ${Object.keys(MODULES).join(", ")})`);
      continue;
    }
    const models = await import(module);
    const Model = models[obj.kind];
    if (typeof Model !== "function") {
      errors.push(`${where}: no schema for kind '${obj.kind}' in ${obj.apiVersion}`);
      continue;
    }
    try {
      new Model(structuredClone(obj)).validate();
    } catch (e) {
      errors.push(`${where}: schema: ${e.message}`);
    }
    const name = obj.metadata?.name;
    if (typeof name !== "string" || name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
      errors.push(`${where}: metadata.name must be a DNS-1123 subdomain`);
    }
    checkLabels(obj.metadata?.labels, where, errors);
    checkLabels(obj.spec?.template?.metadata?.labels, `${where} pod template`, errors);
  }
  return errors;
}
