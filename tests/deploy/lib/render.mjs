// Renders a kustomization with `kubectl kustomize` (kubectl's built-in kustomize, offline) and
// parses the multi-document YAML it prints into plain objects.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, readdirSync, realpathSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";

// The Google Cloud SDK installs `kubectl` as a dispatcher that first asks a cluster (localhost:8080
// when none is configured) for its version, to pick a client; offline that costs seconds per call.
// Beside it lie the real clients, kubectl.1.N: take the newest.
function findKubectl() {
  if (process.env.KUBECTL) return process.env.KUBECTL;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, "kubectl");
    if (!existsSync(candidate)) continue;
    const real = realpathSync(candidate);
    const versions = readdirSync(path.dirname(real))
      .map((f) => /^kubectl\.1\.(\d+)$/.exec(f))
      .filter(Boolean)
      .sort((a, b) => Number(b[1]) - Number(a[1]));
    return versions.length ? path.join(path.dirname(real), versions[0][0]) : real;
  }
  return "kubectl";
}

export const KUBECTL = findKubectl();

// Rejects when kubectl is missing or the kustomization does not build, with kubectl's message.
export async function render(dir) {
  let stdout;
  try {
    ({ stdout } = await promisify(execFile)(KUBECTL, ["kustomize", dir], { encoding: "utf8", maxBuffer: 64 << 20 }));
  } catch (e) {
    if (e.code === "ENOENT") throw new Error(`cannot run '${KUBECTL}': not found (kubectl >= 1.21, with kustomize v4+, is needed)`);
    throw new Error(`kubectl kustomize ${dir} failed: ${(e.stderr ?? e.message).trim()}`);
  }
  return parseYamlStream(stdout, dir);
}

export function parseYamlStream(text, source) {
  const objects = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`${source}: ${doc.errors[0].message}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

// "Kind/name" (with the namespace when set) for messages.
export function ref(obj) {
  const ns = obj?.metadata?.namespace ? `${obj.metadata.namespace}/` : "";
  return `${obj?.kind ?? "?"} ${ns}${obj?.metadata?.name ?? "?"}`;
}
