// Does scripts/install-deps.sh (which the image's build stage runs) install everything the CMake
// build of the image's sources looks for? Each pkg_check_modules() module and find_package()
// package is traced to the Debian package that ships its .pc / CMake config file on this machine.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, existsSync, statSync } from "node:fs";
import path from "node:path";

const BUILT_INTO_CMAKE = new Set(["Threads", "PkgConfig"]);
const run = (cmd, args) => execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });

// The `packages=( … )` list of install-deps.sh.
export function installDepsPackages(script) {
  const body = /^packages=\(([\s\S]*?)^\)/m.exec(script)?.[1] ?? "";
  return body.split("\n").map((l) => l.replace(/#.*/, "")).join(" ").split(/\s+/).filter(Boolean);
}

function cmakeFiles(root, rels) {
  const out = [];
  const walk = (p) => {
    if (!existsSync(p)) return;
    if (statSync(p).isDirectory()) for (const f of readdirSync(p)) walk(path.join(p, f));
    else if (path.basename(p) === "CMakeLists.txt") out.push(p);
  };
  for (const rel of rels) walk(path.join(root, rel));
  return out;
}

// [{kind: "pkg-config" | "cmake", name, file}] required by the CMakeLists under `rels`.
export function buildRequirements(root, rels) {
  const reqs = [];
  for (const file of cmakeFiles(root, rels)) {
    const text = readFileSync(file, "utf8").replace(/#.*$/gm, "");
    for (const m of text.matchAll(/pkg_check_modules\(\s*\w+([^)]*)\)/g)) {
      for (const word of m[1].trim().split(/\s+/)) {
        if (!/^(REQUIRED|QUIET|IMPORTED_TARGET|GLOBAL|NO_CMAKE_PATH|NO_CMAKE_ENVIRONMENT_PATH)$/.test(word)) {
          reqs.push({ kind: "pkg-config", name: word.replace(/[<>=].*$/, ""), file: path.relative(root, file) });
        }
      }
    }
    for (const m of text.matchAll(/find_package\(\s*([A-Za-z0-9_]+)/g)) {
      if (!BUILT_INTO_CMAKE.has(m[1])) reqs.push({ kind: "cmake", name: m[1], file: path.relative(root, file) });
    }
  }
  return reqs;
}

// The Debian package that ships a requirement here, or null.
export function providingPackage(req) {
  const candidates = [];
  if (req.kind === "pkg-config") {
    try {
      candidates.push(path.join(run("pkg-config", ["--variable=pcfiledir", req.name]).trim(), `${req.name}.pc`));
    } catch {
      return null;
    }
  } else {
    candidates.push(`*/${req.name}Config.cmake`, `*/${req.name.toLowerCase()}-config.cmake`, `*/Find${req.name}.cmake`);
  }
  for (const c of candidates) {
    try {
      return run("dpkg", ["-S", c]).split("\n")[0].split(":")[0].split(",")[0].trim();
    } catch {}
  }
  return null;
}

function dependencyClosure(packages) {
  const seen = new Set();
  const todo = [...packages];
  while (todo.length) {
    const p = todo.pop();
    if (seen.has(p)) continue;
    seen.add(p);
    try {
      for (const alt of run("dpkg-query", ["-W", "-f=${Depends},${Pre-Depends}", p]).split(",")) {
        const name = alt.trim().split(/[\s:|(]/)[0];
        if (name) todo.push(name);
      }
    } catch {}
  }
  return seen;
}

// Errors for requirements of the CMakeLists under `rels` that `packages` do not bring.
export function checkBuildDeps(root, rels, packages) {
  const errors = [];
  const provided = dependencyClosure(packages);
  for (const req of buildRequirements(root, rels)) {
    const pkg = providingPackage(req);
    if (!pkg) errors.push(`${req.file}: ${req.kind} '${req.name}' is provided by no installed Debian package here`);
    else if (!provided.has(pkg)) errors.push(`${req.file}: ${req.kind} '${req.name}' comes from ${pkg}, which scripts/install-deps.sh does not install`);
  }
  return errors;
}
