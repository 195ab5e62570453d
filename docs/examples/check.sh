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

npx --no-install openapi-typescript openapi.json --output schema.d.ts --silent
npx --no-install tsc --noEmit -p tsconfig.json
echo "client.ts type-checks against the OpenAPI document"
