// Does the runtime stage of the Dockerfile install what the binary links? `ldd` resolves the
// shared libraries on this (Debian 12) machine, `dpkg -S` names their packages, and each must be
// installed by the final stage, be a dependency of one it installs, or be in debian:12-slim.
import { execFileSync } from "node:child_process";
import { runtimePackages } from "./dockerfile_lint.mjs";

// Packages every debian:12-slim image has (Essential, or pulled in by apt itself).
export const SLIM_BASE = ["libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libzstd1", "liblzma5", "libbz2-1.0", "libcrypt1", "libselinux1", "libpcre2-8-0", "libudev1", "libsystemd0", "libgnutls30"];

const run = (cmd, args) => execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });

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
      depends = run("dpkg-query", ["-W", "-f=${Depends},${Pre-Depends}", p]);
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

// package → one library of the binary it provides.
export function linkedPackages(binary) {
  const owners = new Map();
  const errors = [];
  // Sanitizer runtimes (CI tests an ASan+UBSan build) are never part of a release image.
  const libs = [...run("ldd", [binary]).matchAll(/=>\s+(\/\S+)/g)].map((m) => m[1])
    .filter((lib) => !/\/lib(asan|ubsan|lsan|tsan)\.so/.test(lib));
  if (!libs.length) errors.push(`ldd found no shared library in ${binary}`);
  for (const lib of libs) {
    // dpkg knows the path as packaged; /lib is a link to /usr/lib on Debian 12.
    let owner;
    for (const candidate of [lib, lib.replace(/^\/lib\//, "/usr/lib/"), lib.replace(/^\/usr\/lib\//, "/lib/")]) {
      try {
        owner = run("dpkg", ["-S", candidate]).split(":")[0];
        break;
      } catch {}
    }
    if (!owner) errors.push(`no Debian package owns ${lib}: the runtime image could not get it`);
    else owners.set(owner, lib);
  }
  return { owners, errors };
}

export function checkRuntimeLibraries(dockerfile, binary) {
  const { owners, errors } = linkedPackages(binary);
  const named = runtimePackages(dockerfile);
  const provided = dependencyClosure([...named, ...SLIM_BASE]);
  for (const [pkg, lib] of owners) {
    if (!provided.has(pkg)) errors.push(`${lib} comes from ${pkg}, which the runtime stage does not install`);
  }
  // Nothing needless: every library package named is linked (CUDA's come with the CUDA backend).
  for (const pkg of named.filter((p) => p.startsWith("lib") && !p.startsWith("libcu"))) {
    if (!owners.has(pkg)) errors.push(`the runtime stage installs ${pkg}, but the binary links nothing from it`);
  }
  return errors;
}
