#!/usr/bin/env bash
# Prove the edge toolchain accepts what we ship, offline:
#  - `wrangler deploy --dry-run` for the default, staging and production environments;
#  - `wrangler d1 migrations apply DB --local` into a temporary directory (the real
#    D1 simulator accepts our migrations).
set -euo pipefail
cd "$(dirname "$0")/.."
export WRANGLER_SEND_METRICS=false
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for environment in "" staging production; do
  label=${environment:-default}
  echo "=== wrangler deploy --dry-run ($label) ==="
  # --env="" targets the top-level environment explicitly.
  npx wrangler deploy --dry-run --outdir "$tmp/dist-$label" --env="$environment" > "$tmp/deploy-$label.log" 2>&1 || { cat "$tmp/deploy-$label.log"; exit 1; }
  grep -q -- "--dry-run: exiting now." "$tmp/deploy-$label.log"
  grep -E "env\.(DB|KV|GENERATION_QUEUE) " "$tmp/deploy-$label.log" | sed 's/^/  /'
done

echo "=== wrangler d1 migrations apply DB --local ==="
npx wrangler d1 migrations apply DB --local --persist-to "$tmp/d1" > "$tmp/migrate.log" 2>&1 \
  || { cat "$tmp/migrate.log"; exit 1; }
grep -E "✅|commands executed" "$tmp/migrate.log" | sed 's/^/  /'
echo "edge checks passed"
