// Structural rules over one rendered overlay: what the API schemas cannot see, because it spans
// objects (selectors, ports, the HPA's target, the adapter's metric) or depends on the server
// (its endpoints, metric names and flags). checkRender returns a list of error strings.
import { parse as parseYaml } from "yaml";
import { ref } from "./render.mjs";

// Extended resources that are accelerators. Kubernetes only allows them in limits (or requests
// equal to limits, which it fills in itself); a request alone cannot be overcommitted and fails.
const GPU_RESOURCE = /(^|\.)(nvidia\.com|amd\.com|gpu\.intel\.com)\/|\/gpu$/;
const MIN_STARTUP_BUDGET_S = 300;  // model load may take minutes: a probe must allow at least this

const DEFAULT_SHUTDOWN_TIMEOUT_S = 30;  // `autoglm serve --shutdown-timeout` when not given
const REPEATABLE_FLAGS = new Set(["--api-key", "--queue-policy"]);

// "8", 8, "500m" → cores.
function cpuCores(quantity) {
  if (quantity === undefined) return 0;
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(String(quantity));
  return m ? Number(m[1]) / (m[2] ? 1000 : 1) : 0;
}

const byKind = (objects, kind) => objects.filter((o) => o?.kind === kind);

function matchesLabels(selector, labels) {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

// `--name=value` and `--name value` into a Map (a repeated flag keeps every value).
export function parseFlags(argv) {
  const flags = new Map();
  for (let i = 0; i < argv.length; ++i) {
    const token = String(argv[i]);
    if (!token.startsWith("--")) continue;
    const eq = token.indexOf("=");
    let name, value;
    if (eq >= 0) {
      name = token.slice(0, eq);
      value = token.slice(eq + 1);
    } else {
      name = token;
      const next = argv[i + 1];
      value = next !== undefined && !String(next).startsWith("-") ? String(argv[++i]) : "";
    }
    if (!flags.has(name)) flags.set(name, []);
    flags.get(name).push(value);
  }
  return flags;
}

const flagValue = (flags, name) => flags.get(name)?.at(-1);

// The seconds a duration flag means. The server takes `--shutdown-timeout` in seconds.
function seconds(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text ?? "");
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === "ms" ? n / 1000 : m[2] === "m" ? n * 60 : n;
}

function preStopSeconds(container) {
  const handler = container.lifecycle?.preStop;
  if (!handler) return null;
  if (handler.sleep?.seconds !== undefined) return Number(handler.sleep.seconds);
  const cmd = handler.exec?.command ?? [];
  const i = cmd.findIndex((c) => c === "sleep" || String(c).endsWith("/sleep"));
  return i >= 0 ? seconds(String(cmd[i + 1])) : 0;
}

// Does a probe / Service port (number or name) name one of the container's ports?
function containerPortFor(container, port) {
  return (container.ports ?? []).find((p) => (typeof port === "number" ? p.containerPort === port : p.name === port));
}

// Is `file` below one of the container's mounts? Returns the mount.
function mountFor(container, file) {
  return (container.volumeMounts ?? []).find((m) => file === m.mountPath || file.startsWith(m.mountPath.replace(/\/?$/, "/")));
}

function checkProbe(where, kind, probe, container, facts, errors) {
  if (!probe) {
    errors.push(`${where}: ${kind} missing (probes on /health are required)`);
    return;
  }
  const get = probe.httpGet;
  if (!get) {
    errors.push(`${where}: ${kind} must be an httpGet on /health`);
    return;
  }
  if (!facts.endpoints.GET.has(get.path)) {
    errors.push(`${where}: ${kind} path '${get.path}' is not an endpoint of the server (GET: ${[...facts.endpoints.GET].join(", ")})`);
  } else if (get.path !== "/health") {
    errors.push(`${where}: ${kind} path '${get.path}' must be /health (the only endpoint that reports loading and draining and needs no API key)`);
  }
  if (!containerPortFor(container, get.port)) {
    errors.push(`${where}: ${kind} port ${JSON.stringify(get.port)} is not a container port (${(container.ports ?? []).map((p) => `${p.name}=${p.containerPort}`).join(", ")})`);
  }
  if (get.scheme && get.scheme !== "HTTP") errors.push(`${where}: ${kind} scheme must be HTTP (the server does not serve TLS)`);
}

function checkDeployment(dep, objects, facts, errors) {
  const where = ref(dep);
  const spec = dep.spec ?? {};
  const pod = spec.template?.spec ?? {};
  const labels = spec.template?.metadata?.labels ?? {};
  if (!matchesLabels(spec.selector?.matchLabels, labels)) {
    errors.push(`${where}: selector ${JSON.stringify(spec.selector?.matchLabels ?? {})} does not match its pod template labels ${JSON.stringify(labels)}`);
  }
  const container = (pod.containers ?? []).find((c) => c.name === "autoglm");
  if (!container) {
    errors.push(`${where}: no container named 'autoglm'`);
    return;
  }
  const cwhere = `${where} container autoglm`;

  // The command line: `autoglm serve` with long flags the server knows.
  const argv = [...(container.command ?? []), ...(container.args ?? [])];
  if (argv[0] !== "autoglm" || argv[1] !== "serve") {
    errors.push(`${cwhere}: command must start with 'autoglm serve' (got ${JSON.stringify(argv.slice(0, 2))})`);
  }
  const flags = parseFlags(argv.slice(2));
  for (const [name, values] of flags) {
    if (values.length > 1 && !REPEATABLE_FLAGS.has(name)) errors.push(`${cwhere}: ${name} is given ${values.length} times`);
  }
  if (facts.flags) {
    for (const name of flags.keys()) {
      if (!facts.flags.has(name)) errors.push(`${cwhere}: '${name}' is not a flag of autoglm serve`);
    }
  }

  // Port: the server listens on 0.0.0.0:--port, which must be the container port named http.
  const http = (container.ports ?? []).find((p) => p.name === "http");
  if (!http) {
    errors.push(`${cwhere}: no container port named 'http'`);
  } else {
    const port = Number(flagValue(flags, "--port") ?? 8080);
    if (port !== http.containerPort) {
      errors.push(`${cwhere}: the server listens on --port ${port} but containerPort 'http' is ${http.containerPort}`);
    }
  }
  const host = flagValue(flags, "--host");
  if (host !== "0.0.0.0" && host !== "::") {
    errors.push(`${cwhere}: --host must be 0.0.0.0 (the server binds 127.0.0.1 by default, unreachable from outside the pod); got ${host ?? "none"}`);
  }

  checkProbe(cwhere, "startupProbe", container.startupProbe, container, facts, errors);
  checkProbe(cwhere, "readinessProbe", container.readinessProbe, container, facts, errors);
  checkProbe(cwhere, "livenessProbe", container.livenessProbe, container, facts, errors);
  const startup = container.startupProbe;
  if (startup) {
    const budget = (startup.failureThreshold ?? 3) * (startup.periodSeconds ?? 10) + (startup.initialDelaySeconds ?? 0);
    if (budget < MIN_STARTUP_BUDGET_S) {
      errors.push(`${cwhere}: startupProbe allows ${budget} s for the model to load; at least ${MIN_STARTUP_BUDGET_S} s is needed`);
    }
  }

  // Accelerators only in limits.
  for (const c of [...(pod.containers ?? []), ...(pod.initContainers ?? [])]) {
    for (const name of Object.keys(c.resources?.requests ?? {})) {
      if (GPU_RESOURCE.test(name)) {
        errors.push(`${where} container ${c.name}: '${name}' is in resources.requests; GPUs go in resources.limits only`);
      }
    }
  }
  const gpuLimits = Object.keys(container.resources?.limits ?? {}).filter((n) => GPU_RESOURCE.test(n));
  if (gpuLimits.length) {
    if (!pod.runtimeClassName) errors.push(`${where}: asks for ${gpuLimits.join(", ")} but sets no runtimeClassName`);
    if (!(pod.tolerations ?? []).some((t) => gpuLimits.some((g) => t.key === g))) {
      errors.push(`${where}: asks for ${gpuLimits.join(", ")} but has no toleration for the GPU nodes' taint`);
    }
  }
  if (!container.resources?.requests?.cpu || !container.resources?.requests?.memory) {
    errors.push(`${cwhere}: resources.requests must set cpu and memory (the scheduler and the CPU HPA rely on them)`);
  }

  // Files named on the command line live on mounted volumes; the models volume is read-only.
  let config = {};  // the --config file, when it comes from a ConfigMap of the render
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  for (const [flag, required] of [["--model", true], ["--config", false], ["--api-key-file", false]]) {
    const file = flagValue(flags, flag);
    if (file === undefined) {
      if (required) errors.push(`${cwhere}: ${flag} is not set`);
      continue;
    }
    const mount = mountFor(container, file);
    if (!mount) {
      errors.push(`${cwhere}: ${flag} ${file} is on no mounted volume`);
      continue;
    }
    const volume = volumes.get(mount.name);
    if (!volume) {
      errors.push(`${cwhere}: volumeMount '${mount.name}' names no volume`);
      continue;
    }
    if (volume.configMap) {
      const cm = byKind(objects, "ConfigMap").find((o) => o.metadata?.name === volume.configMap.name);
      const key = file.slice(mount.mountPath.replace(/\/?$/, "/").length);
      if (!cm) errors.push(`${where}: volume '${volume.name}' names ConfigMap ${volume.configMap.name}, which the render does not contain`);
      else if (!(key in (cm.data ?? {}))) errors.push(`${where}: ${flag} ${file}: ConfigMap ${cm.metadata.name} has no key '${key}'`);
      else if (flag === "--config") {
        try {
          config = parseYaml(cm.data[key]) ?? {};
        } catch (e) {
          errors.push(`${where}: --config ${file} (ConfigMap ${cm.metadata.name}): invalid YAML: ${e.message}`);
        }
      }
    }
  }
  // Shutdown: SIGKILL must not come before the preStop wait plus the server's drain.
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  const preStop = preStopSeconds(container);
  if (preStop === null) errors.push(`${cwhere}: no lifecycle.preStop (the Service needs a moment to stop routing here)`);
  // The drain time: --shutdown-timeout, else shutdown_timeout in the config file, else 30 s.
  const drain = seconds(String(flagValue(flags, "--shutdown-timeout") ?? config.shutdown_timeout ?? DEFAULT_SHUTDOWN_TIMEOUT_S));
  if (!(grace > (preStop ?? 0) + drain)) {
    errors.push(`${where}: terminationGracePeriodSeconds ${grace} must exceed preStop ${preStop ?? 0} s + the server's shutdown timeout ${drain} s`);
  }

  // Threads: the server counts the node's cores; the pod gets its CPU request.
  const cpu = cpuCores(container.resources?.requests?.cpu);
  const threads = Number(flagValue(flags, "--threads") ?? config.threads ?? 0);
  if (!threads) {
    errors.push(`${cwhere}: --threads is not set (the server would start one thread per node core, not per requested core)`);
  } else if (cpu && threads > Math.ceil(cpu)) {
    errors.push(`${cwhere}: --threads ${threads} is more than the ${cpu} cores requested`);
  }


  const models = mountFor(container, flagValue(flags, "--model") ?? "/models/");
  if (models && (models.mountPath !== "/models" || !models.readOnly)) {
    errors.push(`${cwhere}: models must be mounted read-only at /models`);
  }

  if (pod.securityContext?.runAsNonRoot !== true) errors.push(`${where}: securityContext.runAsNonRoot must be true`);
}

function deploymentsMatching(objects, selector) {
  return byKind(objects, "Deployment").filter((d) => matchesLabels(selector, d.spec?.template?.metadata?.labels));
}

function checkService(svc, objects, errors) {
  const where = ref(svc);
  const deps = deploymentsMatching(objects, svc.spec?.selector);
  if (!deps.length) {
    errors.push(`${where}: selector ${JSON.stringify(svc.spec?.selector ?? {})} matches no Deployment's pod labels`);
    return;
  }
  for (const port of svc.spec?.ports ?? []) {
    const target = port.targetPort ?? port.port;
    for (const dep of deps) {
      const containers = dep.spec.template.spec?.containers ?? [];
      if (!containers.some((c) => containerPortFor(c, target))) {
        errors.push(`${where}: port ${port.name ?? port.port} targets ${JSON.stringify(target)}, which is no container port of ${ref(dep)}`);
      }
    }
  }
}

function checkPdb(pdb, objects, errors) {
  const where = ref(pdb);
  if (pdb.spec?.selector?.matchExpressions?.length) errors.push(`${where}: use matchLabels only`);
  if (!deploymentsMatching(objects, pdb.spec?.selector?.matchLabels).length) {
    errors.push(`${where}: selector ${JSON.stringify(pdb.spec?.selector?.matchLabels ?? {})} matches no Deployment's pod labels`);
  }
  if (pdb.spec?.minAvailable === undefined && pdb.spec?.maxUnavailable === undefined) {
    errors.push(`${where}: set minAvailable or maxUnavailable`);
  }
}

// prometheus-adapter rules found in rendered ConfigMaps: [{configMap, seriesMetric, exposedAs}].
export function adapterRules(objects, errors = []) {
  const rules = [];
  for (const cm of byKind(objects, "ConfigMap")) {
    for (const [key, text] of Object.entries(cm.data ?? {})) {
      if (!/^\s*(rules|externalRules|resourceRules):/m.test(text)) continue;
      let config;
      try {
        config = parseYaml(text);
      } catch (e) {
        errors.push(`${ref(cm)} ${key}: invalid YAML: ${e.message}`);
        continue;
      }
      for (const rule of [...(config?.rules ?? []), ...(config?.externalRules ?? [])]) {
        const series = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(rule.seriesQuery ?? "")?.[1];
        if (!series) {
          errors.push(`${ref(cm)} ${key}: a rule's seriesQuery names no metric`);
          continue;
        }
        let exposedAs = series;
        if (rule.name?.matches) {
          const re = new RegExp(rule.name.matches);
          if (!re.test(series)) errors.push(`${ref(cm)} ${key}: name.matches '${rule.name.matches}' does not match the series ${series}`);
          exposedAs = series.replace(re, rule.name.as ?? "$0");
        }
        if (!/<<\.Series>>/.test(rule.metricsQuery ?? "")) {
          errors.push(`${ref(cm)} ${key}: metricsQuery of ${series} must use <<.Series>>`);
        }
        rules.push({ configMap: ref(cm), series, exposedAs });
      }
    }
  }
  return rules;
}

function checkHpa(hpa, objects, facts, rules, errors) {
  const where = ref(hpa);
  const target = hpa.spec?.scaleTargetRef ?? {};
  const dep = byKind(objects, "Deployment").find((d) => d.metadata?.name === target.name);
  if (target.kind !== "Deployment" || target.apiVersion !== "apps/v1" || !dep) {
    errors.push(`${where}: scaleTargetRef ${target.apiVersion}/${target.kind} ${target.name} is no Deployment of the render`);
  }
  if ((hpa.spec?.minReplicas ?? 1) > hpa.spec?.maxReplicas) errors.push(`${where}: minReplicas > maxReplicas`);
  if (dep?.spec?.replicas !== undefined) {
    errors.push(`${ref(dep)}: sets spec.replicas although ${where} manages it (every apply would reset the count)`);
  }
  for (const metric of hpa.spec?.metrics ?? []) {
    if (metric.type === "Resource") {
      if (metric.resource?.name === "cpu" && dep) {
        const c = dep.spec.template.spec?.containers?.find((x) => x.name === "autoglm");
        if (!c?.resources?.requests?.cpu) errors.push(`${where}: a CPU utilisation target needs a CPU request on the container`);
      }
      continue;
    }
    const name = metric.pods?.metric?.name ?? metric.object?.metric?.name ?? metric.external?.metric?.name;
    const rule = rules.find((r) => r.exposedAs === name);
    if (!rule) {
      errors.push(`${where}: metric '${name}' is served by no prometheus-adapter rule in the render (rules expose: ${rules.map((r) => r.exposedAs).join(", ") || "none"})`);
    } else if (!facts.metrics.has(rule.series)) {
      errors.push(`${where}: metric '${name}' comes from series '${rule.series}', which is not a metric the server exports`);
    }
    if (!hpa.spec?.behavior?.scaleUp || !hpa.spec?.behavior?.scaleDown) {
      errors.push(`${where}: a custom-metric HPA must set behavior.scaleUp and behavior.scaleDown`);
    }
  }
}

function checkServiceMonitor(sm, objects, facts, errors) {
  const where = ref(sm);
  // Does the server run with API keys? (--api-key, --api-key-file or AUTOGLM_API_KEY)
  const apiKeys = byKind(objects, "Deployment").some((d) =>
    (d.spec?.template?.spec?.containers ?? []).some((c) =>
      [...(c.args ?? []), ...(c.command ?? [])].some((a) => /^--api-key(-file)?(=|$)/.test(String(a))) ||
      (c.env ?? []).some((e) => e.name === "AUTOGLM_API_KEY")));
  const services = byKind(objects, "Service").filter((s) => matchesLabels(sm.spec?.selector?.matchLabels, s.metadata?.labels));
  if (!services.length) {
    errors.push(`${where}: selector ${JSON.stringify(sm.spec?.selector?.matchLabels ?? {})} matches no Service's labels`);
    return;
  }
  for (const ep of sm.spec?.endpoints ?? []) {
    if (!services.some((s) => (s.spec?.ports ?? []).some((p) => p.name === ep.port))) {
      errors.push(`${where}: endpoint port '${ep.port}' is no named port of the Service`);
    }
    const scrapePath = ep.path ?? "/metrics";
    if (!facts.endpoints.GET.has(scrapePath)) {
      errors.push(`${where}: path '${scrapePath}' is not an endpoint of the server`);
    } else if (apiKeys && !facts.endpoints.open?.has(scrapePath) && !ep.authorization?.credentials && !ep.bearerTokenSecret) {
      errors.push(`${where}: the server asks for an API key on ${scrapePath}; the endpoint needs authorization.credentials`);
    }
  }
}

function checkNetworkPolicy(np, objects, errors) {
  const where = ref(np);
  const deps = deploymentsMatching(objects, np.spec?.podSelector?.matchLabels);
  if (!deps.length) {
    errors.push(`${where}: podSelector matches no Deployment's pod labels`);
    return;
  }
  for (const rule of np.spec?.ingress ?? []) {
    for (const p of rule.ports ?? []) {
      const ok = deps.every((d) => (d.spec.template.spec?.containers ?? []).some((c) => containerPortFor(c, p.port)));
      if (!ok) errors.push(`${where}: ingress port ${JSON.stringify(p.port)} is no container port of the server`);
    }
  }
}

export function checkRender(objects, facts) {
  const errors = [];
  const deployments = byKind(objects, "Deployment");
  if (deployments.length !== 1) errors.push(`expected one Deployment, found ${deployments.length}`);
  for (const d of deployments) checkDeployment(d, objects, facts, errors);
  for (const s of byKind(objects, "Service")) checkService(s, objects, errors);
  for (const p of byKind(objects, "PodDisruptionBudget")) checkPdb(p, objects, errors);
  const rules = adapterRules(objects, errors);
  // A rule whose series the server does not export feeds nothing, whoever uses it.
  for (const rule of rules) {
    if (!facts.metrics.has(rule.series)) {
      errors.push(`${rule.configMap}: adapter rule on '${rule.series}', which is not a metric the server exports`);
    }
  }
  for (const h of byKind(objects, "HorizontalPodAutoscaler")) checkHpa(h, objects, facts, rules, errors);
  for (const s of byKind(objects, "ServiceMonitor")) checkServiceMonitor(s, objects, facts, errors);
  for (const n of byKind(objects, "NetworkPolicy")) checkNetworkPolicy(n, objects, errors);
  // `kubectl apply -n NS -k DIR` refuses objects that name another namespace.
  for (const o of objects) {
    if (o.metadata?.namespace) errors.push(`${ref(o)}: sets metadata.namespace; leave it to 'kubectl apply -n'`);
  }
  for (const kind of ["Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"]) {
    if (!byKind(objects, kind).length) errors.push(`the render has no ${kind}`);
  }
  return errors;
}
