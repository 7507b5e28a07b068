#!/usr/bin/env node
// CLI: start Miniflare (bindings from wrangler.toml) and the bridge worker, print one
// JSON line {"bridge": "ready", "url": ...} on stdout, then serve until stdin closes
// or SIGTERM/SIGINT arrives. Delivered queue batches are POSTed as JSON to the
// callback URL (the CPython consumer), which answers {"ok", "calls": [...]}.
//
//   node tools/miniflare/bridge.mjs --state DIR [--config wrangler.toml] [--env NAME]
//        [--callback URL] [--port 0]

import { parseArgs } from "node:util";
import { startHarness } from "./harness.mjs";

const { values: args } = parseArgs({
  options: {
    state: { type: "string" },
    config: { type: "string" },
    env: { type: "string" },
    callback: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "0" },
  },
});
if (!args.state) {
  console.error("bridge.mjs: --state DIR is required");
  process.exit(2);
}

async function forwardBatch(batch) {
  if (!args.callback) {
    return { ok: false, calls: [], error: "no consumer callback configured" };
  }
  const response = await fetch(args.callback, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(batch),
  });
  if (!response.ok) {
    return { ok: false, calls: [], error: `consumer answered HTTP ${response.status}` };
  }
  return response.json();
}

const harness = await startHarness({
  config: args.config,
  environment: args.env,
  stateDir: args.state,
  onBatch: forwardBatch,
  onConsumer(url) {
    args.callback = url ?? undefined;
    return true;
  },
  host: args.host,
  port: Number(args.port),
});

let closing = false;
async function shutdown(code) {
  if (closing) return;
  closing = true;
  try {
    await harness.mf.dispose();
  } finally {
    process.exit(code);
  }
}
process.on("SIGTERM", () => shutdown(0));
process.on("SIGINT", () => shutdown(0));
// The parent holds our stdin: when it goes away (even by crashing), so do we.
process.stdin.on("end", () => shutdown(0));
process.stdin.on("error", () => shutdown(0));
process.stdin.resume();

process.stdout.write(
  `${JSON.stringify({ bridge: "ready", url: harness.url, bindings: harness.options })}\n`,
);
