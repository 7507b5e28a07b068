#!/usr/bin/env bash
# Prove the edge toolchain accepts what we ship, offline:
#  - `wrangler deploy --dry-run` for the default, staging and production environments,
#    each with the static assets (public/: /docs, the widget example, Swagger UI);
#  - `wrangler d1 migrations apply DB --local` into a temporary directory (the real
#    D1 simulator accepts our migrations).
set -euo pipefail
cd "$(dirname "$0")/.."
export WRANGLER_SEND_METRICS=false
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The Swagger UI files are copied in by `make install` (git-ignored): without them /docs
# would deploy as a page whose script is missing.
test -f public/vendor/swagger-ui/swagger-ui-bundle.js \
  || { echo "public/vendor/swagger-ui is missing: run make install"; exit 1; }

for environment in "" staging production; do
  label=${environment:-default}
  echo "=== wrangler deploy --dry-run ($label) ==="
  # --env="" targets the top-level environment explicitly.
  npx wrangler deploy --dry-run --outdir "$tmp/dist-$label" --env="$environment" > "$tmp/deploy-$label.log" 2>&1 || { cat "$tmp/deploy-$label.log"; exit 1; }
  grep -q -- "--dry-run: exiting now." "$tmp/deploy-$label.log"
  grep -E "env\.(DB|KV|GENERATION_QUEUE) " "$tmp/deploy-$label.log" | sed 's/^/  /'
  grep -E "Read [0-9]+ files from the assets directory .*/public$" "$tmp/deploy-$label.log" \
    | sed 's/^/  /' | grep . || { echo "no static assets in the $label deploy"; exit 1; }
done

echo "=== wrangler d1 migrations apply DB --local ==="
npx wrangler d1 migrations apply DB --local --persist-to "$tmp/d1" > "$tmp/migrate.log" 2>&1 \
  || { cat "$tmp/migrate.log"; exit 1; }
grep -E "✅|commands executed" "$tmp/migrate.log" | sed 's/^/  /'
echo "edge checks passed"
