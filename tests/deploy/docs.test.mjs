// docs/OPERATIONS.md: every shell block is tagged, and every command is run or checked.
//   ```sh run      executed here, in the repository root, with the built autoglm first on PATH and
//                  AUTOGLM_URL pointing at a server this test starts (stories260K, 127.0.0.1)
//   ```sh docker   needs a Docker engine (none on CI machines): every repository path it names
//                  exists, `docker build` names deploy/Dockerfile, compose files pass the checks
//   ```sh cluster  needs a Kubernetes cluster: every path exists, every `-k DIR` renders and
//                  validates, every kubectl verb exists (`kubectl VERB --help`)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { validateOverlay } from "./lib/validate.mjs";
import { checkCompose } from "./lib/compose_rules.mjs";
import { KUBECTL } from "./lib/render.mjs";
import { REPO_ROOT, staticFacts } from "./lib/server_facts.mjs";

const DOC = path.join(REPO_ROOT, "docs/OPERATIONS.md");
const BIN = process.env.AUTOGLM_BIN;
const SHARED = process.env.AUTOGLM_SHARED_DIR ?? path.join(REPO_ROOT, "../shared");
const MODEL = path.join(SHARED, "models/stories260K.gguf");

// Fenced blocks: [{lang, tag, body, line}]
export function shellBlocks(markdown) {
  const blocks = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; ++i) {
    const open = /^```(\S*)\s*(.*)$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body = [];
    for (++i; i < lines.length && !/^```\s*$/.test(lines[i]); ++i) body.push(lines[i]);
    blocks.push({ lang: open[1], tag: open[2].trim(), body: body.join("\n"), line: start + 1 });
  }
  return blocks.filter((b) => ["sh", "bash", "shell", "console"].includes(b.lang));
}

// Shell commands of a block: continuation lines joined, comments and blank lines dropped.
export function commands(body) {
  return body
    .replace(/\s*\\\n\s*/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}

// Repository paths a command names (deploy/…, tests/…, docs/…, scripts/…).
const repoPaths = (cmd) => [...cmd.matchAll(/(?:^|[\s=:"'])((?:deploy|tests|docs|scripts)\/[A-Za-z0-9_.\/-]*[A-Za-z0-9_])/g)].map((m) => m[1]);

const markdown = existsSync(DOC) ? readFileSync(DOC, "utf8") : "";
const blocks = shellBlocks(markdown);
const facts = staticFacts();

test("docs/OPERATIONS.md exists and tags every shell block run, docker or cluster", () => {
  assert.ok(markdown, `${DOC} is missing`);
  assert.ok(blocks.length > 0);
  for (const b of blocks) {
    assert.ok(["run", "docker", "cluster"].includes(b.tag), `line ${b.line}: a \`\`\`${b.lang} block tagged '${b.tag}': tag it run, docker or cluster`);
  }
  assert.ok(blocks.some((b) => b.tag === "run"));
});

test("paths named in the docs exist", () => {
  for (const b of blocks) {
    // Folders the block makes itself (mkdir -p deploy/secrets) hold files that need not exist yet.
    const made = commands(b.body).flatMap((c) => (/^mkdir -p (.*)$/.exec(c)?.[1] ?? "").split(/\s+/).filter(Boolean));
    for (const cmd of commands(b.body)) {
      for (const p of repoPaths(cmd).filter((x) => !made.some((m) => x === m || x.startsWith(`${m}/`)))) assert.ok(existsSync(path.join(REPO_ROOT, p)), `line ${b.line}: ${p} does not exist (in: ${cmd})`);
    }
  }
});

test("the block parser finds tags and joins continuation lines", () => {
  const md = "text\n```sh run\necho a \\\n  b\n# note\n```\n```sh\nrm -rf /\n```\n```yaml\nx: 1\n```\n";
  const found = shellBlocks(md);
  assert.deepEqual(found.map((b) => [b.tag, b.line]), [["run", 2], ["", 7]]);
  assert.deepEqual(commands(found[0].body), ["echo a b"]);
});

// kubectl prints its parent's help, and exits 0, for an unknown sub-command: read the usage line.
export function kubectlVerbExists(verb) {
  const run = spawnSync(KUBECTL, [...verb, "--help"], { encoding: "utf8" });
  return run.status === 0 && new RegExp(`\\n\\s*kubectl ${verb.join(" ")}(\\s|$)`).test(run.stdout);
}

test("a kubectl verb that does not exist is caught", () => {
  assert.ok(kubectlVerbExists(["rollout", "status"]));
  assert.ok(kubectlVerbExists(["get"]));
  assert.ok(!kubectlVerbExists(["rollout", "frobnicate"]));
  assert.ok(!kubectlVerbExists(["frobnicate"]));
});

test("docker blocks: builds use deploy/Dockerfile, compose files pass the compose checks", () => {
  for (const b of blocks.filter((x) => x.tag === "docker")) {
    for (const cmd of commands(b.body)) {
      if (/\bdocker build\b/.test(cmd)) assert.match(cmd, /-f deploy\/Dockerfile\b/, `line ${b.line}: ${cmd}`);
      const compose = /docker compose -f (\S+)/.exec(cmd)?.[1];
      if (compose) {
        const file = path.join(REPO_ROOT, compose);
        const errors = checkCompose(parse(readFileSync(file, "utf8")), path.dirname(file), facts);
        assert.deepEqual(errors, [], `line ${b.line}: ${compose}`);
      }
    }
  }
});

test("cluster blocks: kustomizations render and validate, kubectl verbs exist", async () => {
  const verbsChecked = new Set();
  for (const b of blocks.filter((x) => x.tag === "cluster")) {
    for (const cmd of commands(b.body)) {
      for (const m of cmd.matchAll(/(?:^|\s)-k\s+(\S+)|kubectl kustomize\s+(\S+)/g)) {
        const dir = m[1] ?? m[2];
        const { errors } = await validateOverlay(path.join(REPO_ROOT, dir), facts);
        assert.deepEqual(errors, [], `line ${b.line}: ${dir}`);
      }
      for (const m of cmd.matchAll(/\bkubectl\s+((?:[a-z-]+\s+){0,1}[a-z-]+)/g)) {
        const words = m[1].split(/\s+/);
        // "rollout status", "create secret", or a single verb ("apply", "get").
        const verb = ["rollout", "create", "set", "config"].includes(words[0]) ? words : words.slice(0, 1);
        const key = verb.join(" ");
        if (verbsChecked.has(key)) continue;
        verbsChecked.add(key);
        assert.ok(kubectlVerbExists(verb), `line ${b.line}: 'kubectl ${key}' is not a kubectl command`);
      }
    }
  }
});

// ---- run blocks ---------------------------------------------------------------------------------

let server;
let url;
const missing = !BIN ? "AUTOGLM_BIN is not set (ctest sets it)" : !existsSync(MODEL) ? `${MODEL} is missing` : null;

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

before(async () => {
  if (missing) return;
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  // The shipped config, so the docs' examples meet the priority levels they describe.
  const config = path.join(REPO_ROOT, "deploy/k8s/base/server-config.yaml");
  server = spawn(BIN, ["serve", "--model", MODEL, "--host", "127.0.0.1", "--port", String(port), "--threads", "1", "--config", config], { stdio: "ignore" });
  for (let i = 0; i < 600; ++i) {
    try {
      if ((await fetch(`${url}/health`)).status === 200) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the docs' server did not become healthy in 60 s");
});

after(() => server?.kill("SIGTERM"));

for (const b of blocks.filter((x) => x.tag === "run")) {
  test(`run block at line ${b.line}`, missing ? { skip: missing } : {}, () => {
    const env = {
      ...process.env,
      PATH: `${path.dirname(BIN)}${path.delimiter}${process.env.PATH}`,
      AUTOGLM_URL: url,
    };
    const run = spawnSync("bash", ["-euo", "pipefail", "-c", b.body], { cwd: REPO_ROOT, env, encoding: "utf8", timeout: 120_000 });
    assert.equal(run.status, 0, `line ${b.line} exited ${run.status}${run.signal ? ` (${run.signal})` : ""}:\n${b.body}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
  });
}
