// The container image, without a Docker engine: deploy/Dockerfile passes the lint rules, every
// file it copies is in the build context, the runtime stage installs exactly the shared
// libraries the binary links, and each broken variant of the Dockerfile is caught.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { lintDockerfile, dockerignore, aptInstalls } from "./lib/dockerfile_lint.mjs";
import { checkRuntimeLibraries } from "./lib/runtime_libs.mjs";
import { checkBuildDeps, installDepsPackages } from "./lib/build_deps.mjs";
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

const BIN = process.env.AUTOGLM_BIN;
const noBin = BIN ? {} : { skip: "AUTOGLM_BIN is not set (ctest sets it to the built binary)" };

test("the runtime stage installs the packages of the libraries `ldd autoglm` resolves", noBin, () => {
  assert.deepEqual(checkRuntimeLibraries(DOCKERFILE, BIN), []);
});

test("caught: a linked library the runtime stage does not install", noBin, () => {
  const errors = checkRuntimeLibraries(DOCKERFILE.replace(" libyaml-0-2", ""), BIN);
  assert.ok(errors.some((e) => /libyaml-0\.so\.2 comes from libyaml-0-2, which the runtime stage does not install/.test(e)), errors.join("\n"));
});

test("caught: a runtime library package the binary does not link", noBin, () => {
  const errors = checkRuntimeLibraries(DOCKERFILE.replace(" libfmt9", " libfmt9 libxml2"), BIN);
  assert.ok(errors.some((e) => /installs libxml2, but the binary links nothing from it/.test(e)), errors.join("\n"));
});

// The build stage runs scripts/install-deps.sh; CI does too. Everything CMake looks for must come
// from a package it installs, or the image build (and a fresh CI machine) fails at configure.
const CMAKE_TREES = ["CMakeLists.txt", "src", "tests", "bench", "fuzz"];
const DEPS = installDepsPackages(readFileSync(path.join(REPO_ROOT, "scripts/install-deps.sh"), "utf8"));

test("install-deps.sh installs every pkg-config module and CMake package the build looks for", () => {
  assert.ok(DEPS.includes("cmake") && DEPS.includes("libfmt-dev"), `parsed ${DEPS.join(" ")}`);
  assert.deepEqual(checkBuildDeps(REPO_ROOT, CMAKE_TREES, DEPS), []);
});

test("caught: a build dependency install-deps.sh does not install", () => {
  const errors = checkBuildDeps(REPO_ROOT, CMAKE_TREES, DEPS.filter((p) => p !== "libpcre2-dev"));
  assert.ok(errors.some((e) => /pkg-config 'libpcre2-8' comes from libpcre2-dev, which scripts\/install-deps\.sh does not install/.test(e)), errors.join("\n"));
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
