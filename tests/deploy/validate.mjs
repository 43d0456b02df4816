#!/usr/bin/env node
// Renders and validates Kubernetes overlays offline:
//   node tests/deploy/validate.mjs                      every overlay under deploy/k8s/overlays
//   node tests/deploy/validate.mjs deploy/k8s/overlays/cpu ...
// Server facts (endpoints, metric names) come from the server's source; with AUTOGLM_BIN set to
// an autoglm binary, the flags of `autoglm serve` are checked too. Exit status 1 on any error.
import { readdirSync } from "node:fs";
import path from "node:path";
import { validateOverlay } from "./lib/validate.mjs";
import { REPO_ROOT, staticFacts } from "./lib/server_facts.mjs";

const overlaysDir = path.join(REPO_ROOT, "deploy/k8s/overlays");
const dirs = process.argv.length > 2
  ? process.argv.slice(2)
  : readdirSync(overlaysDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => path.join(overlaysDir, d.name));

const facts = staticFacts();
if (!facts.flags) console.log("note: no autoglm serve flags known (set AUTOGLM_BIN); flag names not checked");
let failed = 0;
for (const dir of dirs) {
  try {
    const { objects, errors } = await validateOverlay(dir, facts);
    if (errors.length) {
      failed++;
      console.log(`FAIL ${path.relative(process.cwd(), dir)} (${objects.length} objects)`);
      for (const e of errors) console.log(`  ${e}`);
    } else {
      console.log(`ok   ${path.relative(process.cwd(), dir)} (${objects.length} objects: ${objects.map((o) => o.kind).join(", ")})`);
    }
  } catch (e) {
    failed++;
    console.log(`FAIL ${dir}: ${e.message}`);
  }
}
process.exit(failed ? 1 : 0);
