// deploy/compose.yaml and the Prometheus config beside it, without a Docker engine.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { parse } from "yaml";
import { checkCompose, durationSeconds } from "./lib/compose_rules.mjs";
import { REPO_ROOT, staticFacts } from "./lib/server_facts.mjs";

const DEPLOY = path.join(REPO_ROOT, "deploy");
const COMPOSE = parse(readFileSync(path.join(DEPLOY, "compose.yaml"), "utf8"));
const facts = staticFacts();

test("compose.yaml passes the Compose schema and the rules", () => {
  assert.deepEqual(checkCompose(structuredClone(COMPOSE), DEPLOY, facts), []);
});

test("Prometheus is optional, behind the monitoring profile", () => {
  assert.deepEqual(COMPOSE.services.prometheus.profiles, ["monitoring"]);
  assert.equal(COMPOSE.services.autoglm.profiles, undefined, "the server always starts");
});

test("promtool accepts deploy/prometheus/prometheus.yml", () => {
  const run = spawnSync("promtool", ["check", "config", "--syntax-only", path.join(DEPLOY, "prometheus/prometheus.yml")], { encoding: "utf8" });
  assert.ok(!run.error, `promtool not found (Debian package prometheus, installed by scripts/install-deps.sh): ${run.error?.message}`);
  assert.equal(run.status, 0, run.stdout + run.stderr);
});

test("durationSeconds reads Go durations", () => {
  assert.equal(durationSeconds("75s"), 75);
  assert.equal(durationSeconds("1m30s"), 90);
  assert.equal(durationSeconds("500ms"), 0.5);
});

const BROKEN = [
  { name: "a schema violation", edit: (c) => { c.services.autoglm.ports = { http: 8080 }; }, expect: /schema: \/services\/autoglm\/ports must be array/ },
  { name: "an unknown service key", edit: (c) => { c.services.autoglm.healthcheck_path = "/health"; }, expect: /schema: \/services\/autoglm must NOT have additional properties \('healthcheck_path'\)/ },
  { name: "the container's 8080 not published", edit: (c) => { c.services.autoglm.ports = ["127.0.0.1:8080:9000"]; }, expect: /no port publishes the container's 8080/ },
  { name: "writable models", edit: (c) => { c.services.autoglm.volumes[0].read_only = false; }, expect: /mount the models read-only at \/models/ },
  { name: "a stop grace period shorter than the drain", edit: (c) => { c.services.autoglm.stop_grace_period = "30s"; }, expect: /stop_grace_period 30 s must exceed the server's shutdown_timeout 60 s/ },
  { name: "an environment variable that is no flag", edit: (c) => { c.services.autoglm.environment.AUTOGLM_BATCH_SIZE = "8"; }, expect: /AUTOGLM_BATCH_SIZE maps to --batch-size, which is not a flag/, needsFlags: true },
  { name: "Prometheus always on", edit: (c) => { delete c.services.prometheus.profiles; }, expect: /prometheus: must be optional/ },
  { name: "a secret used but not declared", edit: (c) => { delete c.secrets.api_keys; }, expect: /secret api_keys is not declared/ },
];

describe("broken copies of compose.yaml", () => {
  for (const c of BROKEN) {
    test(`caught: ${c.name}`, (t) => {
      if (c.needsFlags && !facts.flags) return t.skip("the flags of autoglm serve are unknown here");
      const doc = structuredClone(COMPOSE);
      c.edit(doc);
      const errors = checkCompose(doc, DEPLOY, facts);
      assert.ok(errors.some((e) => c.expect.test(e)), `expected ${c.expect}, got:\n  ${errors.join("\n  ")}`);
    });
  }
});
