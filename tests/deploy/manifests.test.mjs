// The Kubernetes manifests: every overlay renders, passes the API schemas and the structural
// rules; the base keeps the seed's HPA; and each way of breaking a copy of the manifests is caught.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, writeFileSync, rmSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { validateObjects, validateOverlay } from "./lib/validate.mjs";
import { render } from "./lib/render.mjs";
import { REPO_ROOT, staticFacts } from "./lib/server_facts.mjs";
import { parseFlags } from "./lib/rules.mjs";

const K8S = path.join(REPO_ROOT, "deploy/k8s");
const OVERLAYS = ["cpu", "gpu", "autoscale-queue"];
const facts = staticFacts();

// Each overlay is rendered once; tests get their own copy of the objects.
const rendered = new Map();
async function renderedCopy(overlay) {
  if (!rendered.has(overlay)) rendered.set(overlay, render(path.join(K8S, overlay === "base" ? "base" : `overlays/${overlay}`)));
  return structuredClone(await rendered.get(overlay));
}

const find = (objects, kind) => objects.find((o) => o.kind === kind);
const server = (objects) => find(objects, "Deployment").spec.template.spec.containers.find((c) => c.name === "autoglm");

test("the overlays on disk are exactly cpu, gpu and autoscale-queue", async () => {
  const dirs = readdirSync(path.join(K8S, "overlays"), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  assert.deepEqual(dirs.sort(), [...OVERLAYS].sort());
});

for (const overlay of OVERLAYS) {
  test(`overlay ${overlay} renders and passes schemas and rules`, async () => {
    const objects = await renderedCopy(overlay);
    const errors = await validateObjects(objects, facts);
    assert.deepEqual(errors, []);
    for (const kind of ["Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ConfigMap", "NetworkPolicy", "PersistentVolumeClaim"]) {
      assert.ok(find(objects, kind), `${overlay} renders a ${kind}`);
    }
  });
}

test("base HPA is the seed's: autoscaling/v2, CPU 70 %, 2 to 10 replicas", async () => {
  const hpa = find(await renderedCopy("base"), "HorizontalPodAutoscaler");
  assert.equal(hpa.apiVersion, "autoscaling/v2");
  assert.equal(hpa.spec.minReplicas, 2);
  assert.equal(hpa.spec.maxReplicas, 10);
  assert.deepEqual(hpa.spec.metrics, [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }]);
});

test("autoscale-queue scales on autoglm_requests_waiting through an adapter rule, with a ServiceMonitor", async () => {
  const objects = await renderedCopy("autoscale-queue");
  const hpa = find(objects, "HorizontalPodAutoscaler");
  assert.deepEqual(hpa.spec.metrics.map((m) => m.pods?.metric?.name), ["autoglm_requests_waiting"]);
  assert.equal(hpa.spec.behavior.scaleUp.stabilizationWindowSeconds, 0);
  assert.ok(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds >= 300, "scale-down waits longer than a model load");
  assert.ok(objects.some((o) => o.kind === "ServiceMonitor"));
  assert.ok(facts.metrics.has("autoglm_requests_waiting"), "the server exports the gauge");
});

test("GPU overlay: nvidia.com/gpu in limits only, runtimeClass, node selection and toleration", async () => {
  const objects = await renderedCopy("gpu");
  const pod = find(objects, "Deployment").spec.template.spec;
  const c = server(objects);
  assert.equal(c.resources.limits["nvidia.com/gpu"], 1);
  assert.equal(c.resources.requests["nvidia.com/gpu"], undefined);
  assert.equal(pod.runtimeClassName, "nvidia");
  assert.ok(pod.nodeSelector["nvidia.com/gpu.present"]);
  assert.ok(pod.tolerations.some((t) => t.key === "nvidia.com/gpu"));
  assert.match(c.image, /-cuda$/);
  const cpu = server(await renderedCopy("cpu"));
  assert.ok(!Object.keys(cpu.resources.limits ?? {}).some((k) => k.includes("gpu")), "the cpu overlay asks for no GPU");
});

test("rolling updates never drop below the serving replicas and the config change rolls pods", async () => {
  const objects = await renderedCopy("cpu");
  const dep = find(objects, "Deployment");
  assert.equal(dep.spec.strategy.rollingUpdate.maxUnavailable, 0);
  const startup = server(objects).startupProbe;
  assert.ok(dep.spec.progressDeadlineSeconds > startup.failureThreshold * startup.periodSeconds);
  const cm = find(objects, "ConfigMap");
  assert.match(cm.metadata.name, /^autoglm-config-[a-z0-9]+$/, "a generated name with a content hash");
  assert.ok(dep.spec.template.spec.volumes.some((v) => v.configMap?.name === cm.metadata.name));
});

test("parseFlags reads --name=value and --name value", async () => {
  const flags = parseFlags(["--port=8080", "--host", "0.0.0.0", "--api-key", "a", "--api-key=b", "--flag"]);
  assert.deepEqual(flags.get("--port"), ["8080"]);
  assert.deepEqual(flags.get("--host"), ["0.0.0.0"]);
  assert.deepEqual(flags.get("--api-key"), ["a", "b"]);
  assert.deepEqual(flags.get("--flag"), [""]);
});

// ---- Broken copies: each must be caught, with a message that says what is wrong. ----------
// Cases with `edits` break a copy of the source files and render it again (what a bad commit
// does); cases with `mutate` break a copy of the rendered objects, which costs no kubectl run.

function brokenCopy(edits) {
  const dir = mkdtempSync(path.join(tmpdir(), "autoglm-k8s-"));
  cpSync(K8S, dir, { recursive: true });
  for (const [file, edit] of Object.entries(edits)) {
    const full = path.join(dir, file);
    const doc = parse(readFileSync(full, "utf8"));
    edit(doc);
    writeFileSync(full, stringify(doc));
  }
  return dir;
}


const baseContainer = (d) => d.spec.template.spec.containers[0];
const kind = (objects, k) => objects.find((o) => o.kind === k);
const dep = (objects) => kind(objects, "Deployment");

const BROKEN = [
  {
    name: "a Service selector that matches no pod",
    overlay: "cpu",
    edits: { "base/service.yaml": (d) => { d.spec.selector["app.kubernetes.io/component"] = "api"; } },
    expect: /Service autoglm: selector .* matches no Deployment/,
  },
  {
    name: "a PodDisruptionBudget selector that matches no pod",
    overlay: "cpu",
    mutate: (o) => { kind(o, "PodDisruptionBudget").spec.selector.matchLabels["app.kubernetes.io/name"] = "autoglm-server"; },
    expect: /PodDisruptionBudget autoglm: selector .* matches no Deployment/,
  },
  {
    name: "a Deployment selector that misses its own pod labels",
    overlay: "cpu",
    mutate: (o) => { dep(o).spec.selector.matchLabels.tier = "inference"; },
    expect: /selector .* does not match its pod template labels/,
  },
  {
    name: "a readiness probe on a wrong port",
    overlay: "cpu",
    edits: { "base/deployment.yaml": (d) => { baseContainer(d).readinessProbe.httpGet.port = 9090; } },
    expect: /readinessProbe port 9090 is not a container port/,
  },
  {
    name: "a liveness probe on a path the server does not serve",
    overlay: "gpu",
    mutate: (o) => { baseContainer(dep(o)).livenessProbe.httpGet.path = "/healthz"; },
    expect: /livenessProbe path '\/healthz' is not an endpoint of the server/,
  },
  {
    name: "a startup probe on an endpoint that needs an API key",
    overlay: "cpu",
    mutate: (o) => { baseContainer(dep(o)).startupProbe.httpGet.path = "/v1/models"; },
    expect: /startupProbe path '\/v1\/models' must be \/health/,
  },
  {
    name: "a missing startup probe",
    overlay: "cpu",
    mutate: (o) => { delete baseContainer(dep(o)).startupProbe; },
    expect: /startupProbe missing/,
  },
  {
    name: "a startup probe too short for a model load",
    overlay: "cpu",
    mutate: (o) => { baseContainer(dep(o)).startupProbe.failureThreshold = 6; },
    expect: /startupProbe allows 30 s/,
  },
  {
    name: "a container port that is not the server's --port",
    overlay: "cpu",
    mutate: (o) => { baseContainer(dep(o)).ports[0].containerPort = 9000; },
    expect: /listens on --port 8080 but containerPort 'http' is 9000/,
  },
  {
    name: "a server bound to loopback",
    overlay: "cpu",
    mutate: (o) => { const c = baseContainer(dep(o)); c.args = c.args.filter((a) => !a.startsWith("--host")); },
    expect: /--host must be 0\.0\.0\.0/,
  },
  {
    name: "a GPU request outside limits",
    overlay: "gpu",
    edits: { "overlays/gpu/gpu.yaml": (d) => { d.spec.template.spec.containers[0].resources.requests["nvidia.com/gpu"] = 1; } },
    expect: /'nvidia\.com\/gpu' is in resources\.requests; GPUs go in resources\.limits only/,
  },
  {
    name: "a GPU without a runtimeClass",
    overlay: "gpu",
    mutate: (o) => { delete dep(o).spec.template.spec.runtimeClassName; },
    expect: /asks for nvidia\.com\/gpu but sets no runtimeClassName/,
  },
  {
    name: "an adapter rule and HPA on a metric the server does not export",
    overlay: "autoscale-queue",
    edits: {
      "overlays/autoscale-queue/prometheus-adapter-rules.yaml": (d) => {
        d.rules[0].seriesQuery = 'autoglm_queue_depth{namespace!="",pod!=""}';
        d.rules[0].name = { matches: "^autoglm_queue_depth$", as: "autoglm_queue_depth" };
      },
      "overlays/autoscale-queue/hpa-queue.yaml": (d) => { d[0].value[0].pods.metric.name = "autoglm_queue_depth"; },
    },
    expect: /metric 'autoglm_queue_depth' comes from series 'autoglm_queue_depth', which is not a metric the server exports/,
  },
  {
    name: "an HPA on a metric no adapter rule serves",
    overlay: "autoscale-queue",
    mutate: (o) => { kind(o, "HorizontalPodAutoscaler").spec.metrics[0].pods.metric.name = "autoglm_requests_running"; },
    expect: /metric 'autoglm_requests_running' is served by no prometheus-adapter rule/,
  },
  {
    name: "an HPA that targets no Deployment",
    overlay: "cpu",
    edits: { "base/hpa.yaml": (d) => { d.spec.scaleTargetRef.name = "autoglm-server"; } },
    expect: /scaleTargetRef apps\/v1\/Deployment autoglm-server is no Deployment of the render/,
  },
  {
    name: "a grace period shorter than preStop plus the server's drain",
    overlay: "cpu",
    mutate: (o) => { dep(o).spec.template.spec.terminationGracePeriodSeconds = 60; },
    expect: /terminationGracePeriodSeconds 60 must exceed preStop 10 s/,
  },
  {
    name: "a config file whose shutdown_timeout outlasts the grace period",
    overlay: "cpu",
    mutate: (o) => {
      const cm = kind(o, "ConfigMap");
      cm.data["server.yaml"] = cm.data["server.yaml"].replace(/^shutdown_timeout: .*$/m, "shutdown_timeout: 120");
    },
    expect: /terminationGracePeriodSeconds 90 must exceed preStop 10 s \+ the server's shutdown timeout 120 s/,
  },
  {
    name: "more threads than requested cores",
    overlay: "gpu",
    mutate: (o) => { const c = baseContainer(dep(o)); c.args = c.args.map((a) => (a.startsWith("--threads") ? "--threads=16" : a)); },
    expect: /--threads 16 is more than the 4 cores requested/,
  },
  {
    name: "no --threads (one thread per node core)",
    overlay: "cpu",
    mutate: (o) => { const c = baseContainer(dep(o)); c.args = c.args.filter((a) => !a.startsWith("--threads")); },
    expect: /--threads is not set/,
  },
  {
    name: "a flag given twice",
    overlay: "cpu",
    mutate: (o) => { baseContainer(dep(o)).args.push("--port", "9000"); },
    expect: /--port is given 2 times/,
  },
  {
    name: "a ServiceMonitor on a port the Service does not name",
    overlay: "autoscale-queue",
    mutate: (o) => { kind(o, "ServiceMonitor").spec.endpoints[0].port = "metrics"; },
    expect: /endpoint port 'metrics' is no named port of the Service/,
  },
  {
    name: "a ServiceMonitor without the API key the server asks for on /metrics",
    overlay: "autoscale-queue",
    mutate: (o) => { delete kind(o, "ServiceMonitor").spec.endpoints[0].authorization; },
    expect: /asks for an API key on \/metrics; the endpoint needs authorization\.credentials/,
  },
  {
    name: "a --config file the ConfigMap does not hold",
    overlay: "cpu",
    edits: { "base/kustomization.yaml": (d) => { d.configMapGenerator[0].files = ["autoglm.yaml=server-config.yaml"]; } },
    expect: /--config \/etc\/autoglm\/config\/server\.yaml: ConfigMap autoglm-config-[a-z0-9]+ has no key 'server\.yaml'/,
  },
  {
    name: "an object pinned to a namespace",
    overlay: "autoscale-queue",
    mutate: (o) => { kind(o, "ServiceMonitor").metadata.namespace = "monitoring"; },
    expect: /ServiceMonitor monitoring\/autoglm: sets metadata\.namespace/,
  },
  {
    name: "replicas fixed beside the HPA",
    overlay: "cpu",
    mutate: (o) => { dep(o).spec.replicas = 3; },
    expect: /Deployment autoglm: sets spec\.replicas although HorizontalPodAutoscaler autoglm manages it/,
  },
  {
    name: "a wrong type the API schema rejects",
    overlay: "cpu",
    mutate: (o) => { dep(o).spec.replicas = "two"; },
    expect: /Deployment autoglm: schema: .*replicas must be integer/,
  },
  {
    name: "a models volume that is writable",
    overlay: "cpu",
    mutate: (o) => { baseContainer(dep(o)).volumeMounts.find((m) => m.mountPath === "/models").readOnly = false; },
    expect: /models must be mounted read-only at \/models/,
  },
  {
    name: "an unknown flag, when the server's flags are known",
    overlay: "cpu",
    mutate: (o) => { baseContainer(dep(o)).args.push("--max-batch-size=8"); },
    flags: ["--host", "--port", "--model", "--config", "--api-key-file", "--threads", "--kv-memory"],
    expect: /'--max-batch-size' is not a flag of autoglm serve/,
  },
];

describe("broken copies of the manifests", { concurrency: 4 }, () => {
  for (const c of BROKEN) {
    test(`caught: ${c.name}`, async () => {
      const f = c.flags ? { ...facts, flags: new Set(c.flags) } : facts;
      let errors;
      if (c.edits) {
        const dir = brokenCopy(c.edits);
        try {
          ({ errors } = await validateOverlay(path.join(dir, "overlays", c.overlay), f));
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      } else {
        const objects = await renderedCopy(c.overlay);
        c.mutate(objects);
        errors = await validateObjects(objects, f);
      }
      assert.ok(errors.some((e) => c.expect.test(e)), `expected an error matching ${c.expect}, got:\n  ${errors.join("\n  ")}`);
    });
  }
});
