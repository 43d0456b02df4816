// Dockerfile lint, offline: syntax diagnostics from dockerfile-utils (the checker behind VS Code's
// Docker support), then a script of rules in the spirit of hadolint plus this project's own
// (non-root, EXPOSE 8080, HEALTHCHECK on /health, every COPY source in the build context).
// lintDockerfile returns a list of error strings.
import { existsSync } from "node:fs";
import path from "node:path";
import { DockerfileParser } from "dockerfile-ast";
import dockerfileUtils from "dockerfile-utils";

const TOOLS_NEEDING_PACKAGES = { curl: "curl", wget: "wget" };

// .dockerignore → a predicate "is this context path excluded". Docker's rules: patterns in order,
// the last one that matches a path (or one of its parent folders) decides; '!' re-includes.
export function dockerignore(text) {
  const rules = [];
  for (let line of text.split("\n")) {
    line = line.trim();
    if (!line || line.startsWith("#")) continue;
    const include = line.startsWith("!");
    const pattern = (include ? line.slice(1) : line).replace(/^\/+/, "").replace(/\/+$/, "");
    const re = pattern
      .split("/")
      .map((part) => (part === "**" ? ".*" : part.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")))
      .join("/");
    rules.push({ include, re: new RegExp(`^${re}$`) });
  }
  return (file) => {
    const parts = file.replace(/^\.\//, "").replace(/\/+$/, "").split("/");
    let excluded = false;
    for (const rule of rules) {
      for (let n = 1; n <= parts.length; ++n) {
        if (rule.re.test(parts.slice(0, n).join("/"))) {
          // An exclusion of a parent excludes the path; a re-inclusion must name the path or a parent.
          excluded = !rule.include;
          break;
        }
      }
    }
    return excluded;
  };
}

// The shell text of a RUN / HEALTHCHECK with line continuations joined.
const text = (instruction) => instruction.getArgumentsContent() ?? "";

// Package names after `apt-get install`, up to the end of that command.
export function aptInstalls(run) {
  const packages = [];
  for (const m of run.matchAll(/apt-get\s+install\b([^;&|]*)/g)) {
    for (const token of m[1].trim().split(/\s+/)) {
      if (/^[a-z0-9][a-z0-9.+-]+$/.test(token)) packages.push(token);
    }
  }
  return packages;
}

function isExecForm(args) {
  try {
    return Array.isArray(JSON.parse(args));
  } catch {
    return false;
  }
}

// Lints `content` (a Dockerfile) whose build context is `contextDir`, with that context's
// .dockerignore text (or "").
export function lintDockerfile(content, { contextDir, ignoreText = "", expectPort = 8080 }) {
  const errors = [];
  for (const d of dockerfileUtils.validate(content, {})) {
    errors.push(`line ${d.range.start.line + 1}: ${d.message}`);
  }
  const df = DockerfileParser.parse(content);
  const instructions = df.getInstructions();
  const ignored = dockerignore(ignoreText);

  // Stages: [{from, name, instructions}]
  const stages = [];
  for (const i of instructions) {
    if (i.getKeyword() === "FROM") {
      stages.push({ from: i, name: i.getBuildStage(), instructions: [] });
    } else if (stages.length) {
      stages.at(-1).instructions.push(i);
    }
  }
  if (!stages.length) return [...errors, "no FROM"];

  const stageNames = new Set();
  for (const [n, stage] of stages.entries()) {
    const from = stage.from;
    const line = from.getRange().start.line + 1;
    const image = from.getImageName();
    const tag = from.getImageTag();
    if (!stageNames.has(image)) {
      if (!tag && !from.getImageDigest()) errors.push(`line ${line}: FROM ${image} has no tag: pin one (DL3006)`);
      if (tag === "latest") errors.push(`line ${line}: FROM ${image}:latest: pin a version (DL3007)`);
    }
    if (n < stages.length - 1 && !stage.name) errors.push(`line ${line}: name every build stage (FROM ... AS name)`);
    if (stage.name) stageNames.add(stage.name);

    let pipefail = false;
    for (const i of stage.instructions) {
      const kw = i.getKeyword();
      const at = `line ${i.getRange().start.line + 1}`;
      if (kw === "SHELL" && /pipefail/.test(text(i))) pipefail = true;
      if (kw === "RUN") {
        const run = text(i);
        if (/apt-get\s+install\b/.test(run)) {
          if (!/(\s-y\b|\s-[a-z]*y[a-z]*\b|--yes|--assume-yes)/.test(run)) errors.push(`${at}: apt-get install without -y (DL3014)`);
          if (!/--no-install-recommends/.test(run)) errors.push(`${at}: apt-get install without --no-install-recommends (DL3015)`);
          if (!/rm -rf \/var\/lib\/apt\/lists/.test(run)) errors.push(`${at}: apt-get install without rm -rf /var/lib/apt/lists/* in the same RUN (DL3009)`);
        }
        if (/apt-get\s+update\b/.test(run) && !/apt-get\s+install\b/.test(run)) errors.push(`${at}: apt-get update alone in a RUN: a cached layer keeps stale lists (DL3009)`);
        if (/apt-get\s+(dist-)?upgrade\b/.test(run)) errors.push(`${at}: apt-get upgrade in an image build (DL3005)`);
        if (/(^|[;&|]\s*)sudo\s/.test(run)) errors.push(`${at}: sudo in RUN (DL3004)`);
        if (/(^|[;&|]\s*)cd\s/.test(run)) errors.push(`${at}: cd in RUN: use WORKDIR (DL3003)`);
        if (/(curl|wget)[^|;&]*\|\s*(ba)?sh\b/.test(run)) errors.push(`${at}: piping a download into a shell`);
        if (/[^|]\|[^|]/.test(run.replace(/'[^']*'/g, "").replace(/"[^"]*"/g, "")) && !pipefail) {
          errors.push(`${at}: a pipe in RUN without SHELL ["/bin/bash", "-o", "pipefail", "-c"] (DL4006)`);
        }
      }
      if (kw === "ADD") errors.push(`${at}: use COPY instead of ADD (DL3020)`);
      if (kw === "WORKDIR" && !text(i).startsWith("/")) errors.push(`${at}: WORKDIR must be absolute (DL3000)`);
      if (kw === "COPY") {
        const fromFlag = i.getFromFlag()?.getValue();
        const args = i.getArguments().map((a) => a.getValue());
        if (args.length < 2) {
          errors.push(`${at}: COPY needs a source and a destination`);
          continue;
        }
        if (fromFlag !== undefined) {
          if (!stageNames.has(fromFlag) || fromFlag === stage.name) errors.push(`${at}: COPY --from=${fromFlag} names no earlier stage`);
          continue;
        }
        for (const src of args.slice(0, -1)) {
          if (/[*?[]/.test(src)) {
            errors.push(`${at}: COPY ${src}: name files, not globs (a glob that matches nothing fails late)`);
            continue;
          }
          if (!existsSync(path.join(contextDir, src))) errors.push(`${at}: COPY ${src}: no such file in the build context`);
          else if (ignored(src)) errors.push(`${at}: COPY ${src}: excluded by .dockerignore`);
        }
      }
    }
  }

  // The image that runs: the last stage.
  const final = stages.at(-1).instructions;
  const finalText = (kw) => final.filter((i) => i.getKeyword() === kw);
  const users = finalText("USER");
  const lastUser = users.at(-1) ? text(users.at(-1)).split(":")[0] : undefined;
  if (!lastUser || lastUser === "root" || lastUser === "0") errors.push(`the final stage must switch to a non-root USER (DL3002)`);
  const start = final.findIndex((i) => ["ENTRYPOINT", "CMD"].includes(i.getKeyword()));
  if (start >= 0 && users.length && final.indexOf(users.at(-1)) > start) errors.push(`USER must come before ENTRYPOINT/CMD`);
  if (!finalText("EXPOSE").some((i) => text(i).split(/\s+/).some((p) => p.replace(/\/tcp$/, "") === String(expectPort)))) {
    errors.push(`the final stage must EXPOSE ${expectPort}`);
  }
  const health = finalText("HEALTHCHECK").at(-1);
  if (!health) {
    errors.push(`the final stage has no HEALTHCHECK`);
  } else {
    const cmd = text(health);
    if (!/\/health\b/.test(cmd)) errors.push(`HEALTHCHECK must query /health`);
    const installed = new Set(final.filter((i) => i.getKeyword() === "RUN").flatMap((i) => aptInstalls(text(i))));
    for (const [tool, pkg] of Object.entries(TOOLS_NEEDING_PACKAGES)) {
      if (new RegExp(`\\b${tool}\\b`).test(cmd) && !installed.has(pkg)) {
        errors.push(`HEALTHCHECK runs ${tool}, which the final stage does not install (${pkg})`);
      }
    }
  }
  for (const kw of ["ENTRYPOINT", "CMD"]) {
    for (const i of finalText(kw)) {
      if (!isExecForm(text(i))) errors.push(`line ${i.getRange().start.line + 1}: ${kw} in shell form: signals would not reach the server (DL3025)`);
    }
  }
  return errors;
}

// The final stage's `apt-get install` packages (for the runtime library check).
export function runtimePackages(content) {
  const df = DockerfileParser.parse(content);
  const froms = df.getFROMs();
  const lastFrom = froms.at(-1)?.getRange().start.line ?? 0;
  return df
    .getInstructions()
    .filter((i) => i.getKeyword() === "RUN" && i.getRange().start.line > lastFrom)
    .flatMap((i) => aptInstalls(text(i)));
}
