// Against a running `autoglm serve` (stories260K from ../shared, on 127.0.0.1 only): the shipped
// config file is accepted, /health is what the probes expect, a live /metrics scrape passes
// `promtool check metrics`, the overlays validate against the live metric names and --help
// flags, and the container entrypoint maps the environment to flags and keeps API keys working.
// Needs AUTOGLM_BIN (ctest sets it); AUTOGLM_SHARED_DIR defaults to ../shared beside the repo.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { existsSync, mkdtempSync, writeFileSync, rmSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { validateOverlay } from "./lib/validate.mjs";
import { REPO_ROOT, endpointsFromSource, metricsFromExposition, serveFlagsFromBinary } from "./lib/server_facts.mjs";

const BIN = process.env.AUTOGLM_BIN;
const SHARED = process.env.AUTOGLM_SHARED_DIR ?? path.join(REPO_ROOT, "../shared");
const MODEL = path.join(SHARED, "models/stories260K.gguf");
const CONFIG = path.join(REPO_ROOT, "deploy/k8s/base/server-config.yaml");
const ENTRYPOINT = path.join(REPO_ROOT, "deploy/docker-entrypoint.sh");
const missing = !BIN ? "AUTOGLM_BIN is not set (ctest sets it)" : !existsSync(BIN) ? `${BIN} does not exist` : !existsSync(MODEL) ? `${MODEL} does not exist` : null;
const opts = missing ? { skip: missing } : {};

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// A started process with its collected stderr and a promise of its exit.
function start(cmd, args, env = {}) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const proc = { child, out: "", err: "" };
  child.stdout.on("data", (d) => (proc.out += d));
  child.stderr.on("data", (d) => (proc.err += d));
  proc.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return proc;
}

async function waitHealthy(port, proc, seconds = 60) {
  const deadline = Date.now() + seconds * 1000;
  let last = "";
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`the server exited with ${proc.child.exitCode}:\n${proc.err}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) return;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no 200 from /health within ${seconds} s (last: ${last}); stderr:\n${proc.err}`);
}

async function stop(proc, seconds = 30) {
  if (proc.child.exitCode !== null) return proc.exited;
  proc.child.kill("SIGTERM");
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), seconds * 1000);
  const result = await proc.exited;
  clearTimeout(timer);
  return result;
}

let server, port, metricsText;

before(async () => {
  if (missing) return;
  port = await freePort();
  server = start(BIN, ["serve", "--model", MODEL, "--host", "127.0.0.1", "--port", String(port), "--config", CONFIG, "--threads", "1"]);
  await waitHealthy(port, server);
  metricsText = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
});

after(async () => {
  if (server) await stop(server);
});

test("the server starts with the shipped config and /health answers 200 {status: ok}", opts, async () => {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: "ok" });
  assert.match(server.err, /2 priority level\(s\)/, "priority_levels from the config file");
});

test("a live /metrics scrape passes promtool check metrics", opts, () => {
  const run = spawnSync("promtool", ["check", "metrics"], { input: metricsText, encoding: "utf8" });
  assert.ok(!run.error, `promtool not found (Debian package prometheus, installed by scripts/install-deps.sh): ${run.error?.message}`);
  assert.equal(run.status, 0, `promtool check metrics:\n${run.stdout}${run.stderr}`);
  assert.equal((run.stdout + run.stderr).trim(), "", "promtool reports nothing");
});

test("the scrape has the queue gauge per priority level that the adapter rule reads", opts, () => {
  assert.match(metricsText, /^autoglm_requests_waiting\{priority="1"\} 0$/m);
  assert.match(metricsText, /^autoglm_requests_waiting\{priority="2"\} 0$/m);
});

test("every overlay validates against the live metric names and the binary's flags", opts, async () => {
  const facts = { endpoints: endpointsFromSource(), metrics: metricsFromExposition(metricsText), flags: serveFlagsFromBinary(BIN) };
  assert.ok(facts.flags?.has("--shutdown-timeout"), "autoglm serve --help lists its flags");
  for (const overlay of readdirSync(path.join(REPO_ROOT, "deploy/k8s/overlays"))) {
    const { errors } = await validateOverlay(path.join(REPO_ROOT, "deploy/k8s/overlays", overlay), facts);
    assert.deepEqual(errors, [], overlay);
  }
});

test("SIGTERM drains and exits 0, as the preStop + grace period expect", opts, async () => {
  const result = await stop(server);
  server = null;
  assert.deepEqual(result, { code: 0, signal: null });
});

test("the container entrypoint maps AUTOGLM_* to flags, reads the key file, and exits 0 on SIGTERM", opts, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "autoglm-entrypoint-"));
  const keys = path.join(dir, "api-keys");
  writeFileSync(keys, "# team keys\nkey-editor-1\nkey-metrics-1\n");
  const p = await freePort();
  const proc = start("sh", [ENTRYPOINT], {
    AUTOGLM_BIN: BIN,
    AUTOGLM_MODEL: MODEL,
    AUTOGLM_HOST: "127.0.0.1",
    AUTOGLM_PORT: String(p),
    AUTOGLM_CONFIG: CONFIG,
    AUTOGLM_THREADS: "1",
    AUTOGLM_MAX_RUNNING: "3",
    AUTOGLM_API_KEY_FILE: keys,
    AUTOGLM_KV_MEMORY: "",  // empty: not passed on
  });
  try {
    await waitHealthy(p, proc);
    assert.match(proc.err, /from the environment: .*--max-running/);
    assert.doesNotMatch(proc.err, /--kv-memory/);
    assert.match(proc.err, /1 threads, max 3 running/);
    assert.match(proc.err, /API keys required/);
    const base = `http://127.0.0.1:${p}`;
    assert.equal((await fetch(`${base}/v1/models`)).status, 401, "no key, no API");
    assert.equal((await fetch(`${base}/v1/models`, { headers: { Authorization: "Bearer key-editor-1" } })).status, 200);
    assert.equal((await fetch(`${base}/metrics`, { headers: { Authorization: "Bearer key-metrics-1" } })).status, 200, "the scrape key of the ServiceMonitor works");
    assert.equal((await fetch(`${base}/health`)).status, 200, "/health needs no key (probes)");
  } finally {
    const result = await stop(proc);
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(result, { code: 0, signal: null }, "exec made the server the process that gets SIGTERM");
  }
});

test("the entrypoint runs another sub-command when the first argument is not a flag", opts, () => {
  const run = spawnSync("sh", [ENTRYPOINT, "inspect", MODEL], { env: { ...process.env, AUTOGLM_BIN: BIN }, encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /llama/);
});
