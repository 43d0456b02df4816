// The container image, without a Docker engine: deploy/Dockerfile passes the lint rules, every
// file it copies is in the build context, the runtime stage installs exactly the shared
// libraries the binary links, and each broken variant of the Dockerfile is caught.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdtempSync, writeFileSync, rmSync, cpSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { lintDockerfile, runtimePackages, dockerignore, aptInstalls } from "./lib/dockerfile_lint.mjs";
import { REPO_ROOT } from "./lib/server_facts.mjs";

const DOCKERFILE = readFileSync(path.join(REPO_ROOT, "deploy/Dockerfile"), "utf8");
const IGNORE = readFileSync(path.join(REPO_ROOT, ".dockerignore"), "utf8");
const lint = (content, ignoreText = IGNORE) => lintDockerfile(content, { contextDir: REPO_ROOT, ignoreText });

test("deploy/Dockerfile passes the lint rules and every COPY source is in the context", () => {
  assert.deepEqual(lint(DOCKERFILE), []);
});

test("the image is multi-stage: build on debian:12 with install-deps.sh, run on debian:12-slim", () => {
  const froms = [...DOCKERFILE.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gm)].map((m) => m[1]);
  assert.deepEqual(froms, ["debian:12", "debian:12-slim"]);
  assert.match(DOCKERFILE, /^COPY scripts\/install-deps\.sh /m);
  assert.match(DOCKERFILE, /bash scripts\/install-deps\.sh/);
  assert.match(DOCKERFILE, /^ARG BACKEND=cpu$/m, "the CUDA variant is a build arg");
  assert.match(DOCKERFILE, /^ENV AUTOGLM_HOST=0\.0\.0\.0/m, "the server listens on every interface in the container");
});

test(".dockerignore follows Docker's last-match-wins rules", () => {
  const ignored = dockerignore("*\n!src/\n!deploy/a.sh\nsrc/secret\n");
  assert.equal(ignored("README.md"), true);
  assert.equal(ignored("src/cli/main.cpp"), false);
  assert.equal(ignored("src/secret/key"), true);
  assert.equal(ignored("deploy/a.sh"), false);
  assert.equal(ignored("deploy/b.sh"), true);
  assert.equal(dockerignore("")("anything"), false);
});

test("aptInstalls reads the package list of each apt-get install", () => {
  assert.deepEqual(aptInstalls("apt-get update && apt-get install -y --no-install-recommends ab b1 lib-c0.1 $extra && rm -rf x"), ["ab", "b1", "lib-c0.1"]);
});

// Packages every debian:12-slim image has (Essential or pulled in by apt itself).
const SLIM_BASE = new Set(["libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libzstd1", "liblzma5", "libbz2-1.0", "libcrypt1", "libselinux1", "libpcre2-8-0", "libudev1", "libsystemd0", "libgnutls30"]);

// Debian dependencies of installed packages, transitively.
function dependencyClosure(packages) {
  const seen = new Set();
  const todo = [...packages];
  while (todo.length) {
    const p = todo.pop();
    if (seen.has(p)) continue;
    seen.add(p);
    let depends = "";
    try {
      depends = execFileSync("dpkg-query", ["-W", "-f=${Depends},${Pre-Depends}", p], { encoding: "utf8" });
    } catch {
      continue;  // not installed here: its dependencies stay unknown
    }
    for (const alt of depends.split(",")) {
      const name = alt.trim().split(/[\s:|(]/)[0];
      if (name) todo.push(name);
    }
  }
  return seen;
}

test("the runtime stage installs the packages of the libraries `ldd autoglm` resolves", (t) => {
  const bin = process.env.AUTOGLM_BIN;
  if (!bin) return t.skip("AUTOGLM_BIN is not set (ctest sets it to the built binary)");
  const ldd = execFileSync("ldd", [bin], { encoding: "utf8" });
  const libs = [...ldd.matchAll(/=>\s+(\/\S+)/g)].map((m) => m[1]);
  assert.ok(libs.length > 0, "ldd found no shared library");
  const owners = new Map();  // package → library
  for (const lib of libs) {
    // dpkg -S knows the path as packaged; /lib is a link to /usr/lib on Debian 12.
    let owner;
    for (const candidate of [lib, lib.replace(/^\/lib/, "/usr/lib"), lib.replace(/^\/usr\/lib/, "/lib")]) {
      try {
        owner = execFileSync("dpkg", ["-S", candidate], { encoding: "utf8" }).split(":")[0];
        break;
      } catch {}
    }
    assert.ok(owner, `no Debian package owns ${lib}: the runtime image could not get it`);
    owners.set(owner, lib);
  }
  const named = runtimePackages(DOCKERFILE);
  const provided = dependencyClosure([...named, ...SLIM_BASE]);
  for (const [pkg, lib] of owners) {
    assert.ok(provided.has(pkg), `${lib} comes from ${pkg}, which the runtime stage does not install`);
  }
  // And nothing needless: every named library package is linked.
  for (const pkg of named.filter((p) => p.startsWith("lib") && !p.startsWith("libcu"))) {
    assert.ok(owners.has(pkg), `the runtime stage installs ${pkg}, but autoglm links nothing from it`);
  }
});

test("the entrypoint script is POSIX sh and executable", () => {
  const script = path.join(REPO_ROOT, "deploy/docker-entrypoint.sh");
  execFileSync("sh", ["-n", script]);
  execFileSync("test", ["-x", script]);
});

// ---- Broken variants: each rule fires. --------------------------------------------------------

const BROKEN = [
  { name: "no USER", edit: (s) => s.replace(/^USER .*$/m, ""), expect: /non-root USER/ },
  { name: "USER root", edit: (s) => s.replace(/^USER .*$/m, "USER root"), expect: /non-root USER/ },
  { name: "an unpinned base image", edit: (s) => s.replace("FROM debian:12-slim", "FROM debian:latest"), expect: /debian:latest: pin a version/ },
  { name: "a base image without a tag", edit: (s) => s.replace("FROM debian:12 AS build", "FROM debian AS build"), expect: /FROM debian has no tag/ },
  { name: "a COPY of a missing file", edit: (s) => s.replace("COPY deploy/docker-entrypoint.sh", "COPY deploy/entrypoint.sh"), expect: /COPY deploy\/entrypoint\.sh: no such file in the build context/ },
  { name: "a COPY from an unknown stage", edit: (s) => s.replace("COPY --from=build", "COPY --from=builder"), expect: /COPY --from=builder names no earlier stage/ },
  { name: "apt-get install with recommends", edit: (s) => s.replace(/(libfmt9[^\n]*\n[^\n]*)--no-install-recommends/, "$1").replace("apt-get install -y -qq --no-install-recommends \\\n      libfmt9", "apt-get install -y -qq \\\n      libfmt9"), expect: /without --no-install-recommends/ },
  { name: "apt lists left in the layer", edit: (s) => s.replace(" && rm -rf /var/lib/apt/lists/* \\\n && groupadd", " \\\n && groupadd"), expect: /without rm -rf \/var\/lib\/apt\/lists/ },
  { name: "no EXPOSE 8080", edit: (s) => s.replace("EXPOSE 8080", "EXPOSE 9090"), expect: /must EXPOSE 8080/ },
  { name: "no HEALTHCHECK", edit: (s) => s.replace(/^HEALTHCHECK[^\n]*\n[^\n]*\n/m, ""), expect: /no HEALTHCHECK/ },
  { name: "a HEALTHCHECK on another path", edit: (s) => s.replace("/health\"", "/ready\""), expect: /HEALTHCHECK must query \/health/ },
  { name: "a HEALTHCHECK with a tool the image lacks", edit: (s) => s.replace(" curl $extra", " $extra"), expect: /HEALTHCHECK runs curl, which the final stage does not install/ },
  { name: "ENTRYPOINT in shell form", edit: (s) => s.replace('ENTRYPOINT ["/usr/local/bin/autoglm-entrypoint"]', "ENTRYPOINT /usr/local/bin/autoglm-entrypoint"), expect: /ENTRYPOINT in shell form/ },
  { name: "ADD instead of COPY", edit: (s) => s.replace("COPY src src", "ADD src src"), expect: /use COPY instead of ADD/ },
  { name: "an unknown instruction", edit: (s) => s.replace("STOPSIGNAL SIGTERM", "STOPSIGNALS SIGTERM"), expect: /Unknown instruction: STOPSIGNALS/ },
];

describe("broken Dockerfiles", () => {
  for (const c of BROKEN) {
    test(`caught: ${c.name}`, () => {
      const broken = c.edit(DOCKERFILE);
      assert.notEqual(broken, DOCKERFILE, "the edit changed the Dockerfile");
      const errors = lint(broken);
      assert.ok(errors.some((e) => c.expect.test(e)), `expected ${c.expect}, got:\n  ${errors.join("\n  ")}`);
    });
  }
  test("caught: a COPY source that .dockerignore leaves out", () => {
    const errors = lint(DOCKERFILE, IGNORE.replace("!deploy/docker-entrypoint.sh\n", ""));
    assert.ok(errors.some((e) => /COPY deploy\/docker-entrypoint\.sh: excluded by \.dockerignore/.test(e)), errors.join("\n"));
  });
});
