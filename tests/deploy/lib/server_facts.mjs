// What the server really offers, for the manifests to be checked against: its GET endpoints,
// the metric names it exports and the flags `autoglm serve` accepts. Read from the server's
// source, or from a running binary (a live /metrics scrape, `autoglm serve --help`).
import { readFileSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

function read(rel) {
  const file = path.join(REPO_ROOT, rel);
  if (!existsSync(file)) throw new Error(`${rel} not found: the server facts are read from it`);
  return readFileSync(file, "utf8");
}

// Routes registered with cpp-httplib: http_.Get("/health", ...). Regex routes (R"(...)") are left
// out: a probe or scrape path must be a literal route.
export function endpointsFromSource() {
  const src = read("src/server/http_server.cpp");
  const routes = { GET: new Set(), POST: new Set() };
  for (const m of src.matchAll(/\bhttp_\.(Get|Post)\(\s*"([^"]+)"/g)) {
    routes[m[1].toUpperCase()].add(m[2]);
  }
  if (!routes.GET.size) throw new Error("src/server/http_server.cpp: no http_.Get(\"...\") route found");
  // Paths the API-key check lets through: `req.path == "/health" || authorized(req)`.
  routes.open = new Set([...src.matchAll(/req\.path\s*==\s*"([^"]+)"\s*\|\|\s*authorized/g)].map((m) => m[1]));
  return routes;
}

// Metric families written by src/server/metrics.cpp: header(out, "name", "type", ...) and
// histogram(out, "name", ...). Returns Map(full series name → family type); a histogram adds its
// _bucket, _sum and _count series, which is what PromQL and prometheus-adapter see.
export function metricsFromSource() {
  const src = read("src/server/metrics.cpp");
  const families = new Map();
  for (const m of src.matchAll(/\bheader\(\s*out,\s*"([a-z_:][a-z0-9_:]*)",\s*"([a-z]+)"/g)) {
    families.set(`autoglm_${m[1]}`, m[2]);
  }
  for (const m of src.matchAll(/\bhistogram\(\s*out,\s*"([a-z_:][a-z0-9_:]*)"/g)) {
    families.set(`autoglm_${m[1]}`, "histogram");
  }
  if (!families.size) throw new Error("src/server/metrics.cpp: no metric family found");
  return expandFamilies(families);
}

// The families named by `# TYPE` lines of a Prometheus text exposition.
export function metricsFromExposition(text) {
  const families = new Map();
  for (const m of text.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ([a-z]+)$/gm)) {
    families.set(m[1], m[2]);
  }
  if (!families.size) throw new Error("the /metrics page has no '# TYPE' line");
  return expandFamilies(families);
}

function expandFamilies(families) {
  const series = new Map();
  for (const [name, type] of families) {
    if (type === "histogram") {
      for (const suffix of ["_bucket", "_sum", "_count"]) series.set(name + suffix, type);
    } else if (type === "summary") {
      for (const suffix of ["", "_sum", "_count"]) series.set(name + suffix, type);
    } else {
      series.set(name, type);
    }
  }
  return series;
}

// Long flags of `autoglm serve`, from its --help (CLI11 lists "-m,--model TEXT ..."). Returns
// null when the binary is missing or has no serve command, so callers can say what they skipped.
export function serveFlagsFromBinary(binary) {
  if (!binary || !existsSync(binary)) return null;
  const run = spawnSync(binary, ["serve", "--help"], { encoding: "utf8" });
  if (run.status !== 0) return null;
  const flags = new Set();
  for (const m of run.stdout.matchAll(/(?:^|[\s,])(--[a-z0-9][a-z0-9-]*)/gm)) flags.add(m[1]);
  return flags.size ? flags : null;
}

// Long flags declared in src/cli/cmd_serve.cpp (add_option / add_flag "…,--name"), when the file
// exists.
export function serveFlagsFromSource() {
  const file = path.join(REPO_ROOT, "src/cli/cmd_serve.cpp");
  if (!existsSync(file)) return null;
  const src = readFileSync(file, "utf8");
  const flags = new Set(["--help"]);
  for (const m of src.matchAll(/add_(?:option|flag)\w*\(\s*"([^"]+)"/g)) {
    for (const name of m[1].split(",")) if (name.startsWith("--")) flags.add(name.trim());
  }
  return flags.size > 1 ? flags : null;
}

export function staticFacts() {
  return {
    endpoints: endpointsFromSource(),
    metrics: metricsFromSource(),
    flags: serveFlagsFromBinary(process.env.AUTOGLM_BIN) ?? serveFlagsFromSource(),
  };
}
