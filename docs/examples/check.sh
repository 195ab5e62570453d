#!/usr/bin/env bash
# Checks that the OpenAPI document serves a TypeScript frontend: generates
# types from it with openapi-typescript and type-checks client.ts against them.
#
#   docs/examples/check.sh                  # builds the server with cargo
#   docs/examples/check.sh path/to/nuancheng
#
# Needs node and npm (the npm registry, for `npm ci`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [[ $# -gt 0 ]]; then
  "$1" openapi >"$here/openapi.json"
else
  (cd "$root" && cargo run --quiet --bin nuancheng -- openapi) >"$here/openapi.json"
fi

cd "$here"
npm ci --no-audit --no-fund --loglevel=error

# Operations that share an operationId would be declared twice in the
# generated `operations` interface. Until every handler has a name of its own
# (see the ignored test in src/openapi.rs), leave those ids out, so that
# openapi-typescript writes those operations inline under their paths.
node --input-type=module - openapi.json <<'JS'
import { readFileSync, writeFileSync } from "node:fs";
const file = process.argv[2];
const doc = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map();
for (const item of Object.values(doc.paths)) {
  for (const operation of Object.values(item)) {
    if (operation && typeof operation === "object" && operation.operationId) {
      byId.set(operation.operationId, [...(byId.get(operation.operationId) ?? []), operation]);
    }
  }
}
const shared = [...byId].filter(([, operations]) => operations.length > 1);
for (const [, operations] of shared) {
  for (const operation of operations) delete operation.operationId;
}
if (shared.length > 0) {
  console.error(`warning: operationIds shared by several operations, left out: ${shared.map(([id]) => id).join(", ")}`);
}
writeFileSync(file, JSON.stringify(doc, null, 2));
JS

npx --no-install openapi-typescript openapi.json --output schema.d.ts --silent
npx --no-install tsc --noEmit -p tsconfig.json
echo "client.ts type-checks against the OpenAPI document"
