// Starts Miniflare with exactly the D1, KV and Queue bindings (and queue consumer
// settings) that wrangler.toml declares, read by wrangler itself, around the bridge
// worker. Shared by bridge.mjs (the CLI the CPython host spawns) and the Pyodide
// boundary runner (which hands Miniflare's binding objects to Pyodide in-process).

import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, "..", "..");
const BRIDGE_SCRIPT = readFileSync(path.join(HERE, "bridge-worker.mjs"), "utf8");

// The binding kinds this project uses; everything else in wrangler.toml (assets,
// R2, routes...) is irrelevant to the simulators and left out on purpose.
const BINDING_OPTIONS = [
  "bindings",
  "d1Databases",
  "kvNamespaces",
  "queueProducers",
  "queueConsumers",
];

export function workerOptionsFromWrangler(configPath, environment) {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(configPath, environment);
  const picked = {};
  for (const key of BINDING_OPTIONS) {
    if (workerOptions[key] !== undefined) picked[key] = workerOptions[key];
  }
  return { picked, compatibilityDate: workerOptions.compatibilityDate };
}

// Miniflare logs to stdout by default; stdout is reserved for the "ready" line.
class StderrLog extends Log {
  log(message) {
    process.stderr.write(`${message}\n`);
  }
}

/**
 * onBatch(batchDescription) -> {ok, calls, error?}: the consumer. The bridge worker
 * replays `calls` (ack/retry/ackAll/retryAll) on the real batch.
 * onConsumer(url) -> bool: the RPC op `consumer.set` changes where batches go.
 */
export async function startHarness({
  config = path.join(REPO_ROOT, "wrangler.toml"),
  environment,
  stateDir,
  onBatch,
  onConsumer = () => false,
  host = "127.0.0.1",
  port = 0,
}) {
  const { picked, compatibilityDate } = workerOptionsFromWrangler(config, environment);
  // Miniflare 5 (the one wrangler >= 4.120 uses, so that both read the state wrangler's
  // `d1 migrations apply --local` writes) takes its own config; these are the v4-style
  // options wrangler still produces, converted by Miniflare itself.
  const mf = new Miniflare(convertV4MiniflareOptions({
    name: "devcapsules-bridge",
    modules: true,
    script: BRIDGE_SCRIPT,
    // The bridge is JavaScript: the Worker's python_workers flag does not apply to it.
    compatibilityDate,
    ...picked,
    serviceBindings: { CALLBACK: (request) => consumerCallback(request, onBatch, onConsumer) },
    // wrangler's layout: `wrangler d1 migrations apply DB --local --persist-to STATE`
    // writes the very database this Miniflare then serves (wrangler passes the same path).
    resourcePersistencePath: path.join(stateDir, "v3"),
    host,
    port,
    // Never ask the network for Request.cf (there is none offline, and tests need no geo data).
    cf: false,
    log: new StderrLog(LogLevel.WARN),
    handleRuntimeStdio(stdout, stderr) {
      // Keep our stdout for the one "ready" line; workerd's output goes to stderr.
      stdout.pipe(process.stderr);
      stderr.pipe(process.stderr);
    },
  }));
  const url = await mf.ready;
  return { mf, url: url.toString().replace(/\/$/, ""), options: picked };
}

async function consumerCallback(request, onBatch, onConsumer) {
  if (new URL(request.url).pathname === "/consumer") {
    const { url } = await request.json();
    return Response.json({ changed: Boolean(onConsumer(url)) });
  }
  let outcome;
  try {
    outcome = await onBatch(await request.json());
  } catch (err) {
    outcome = { ok: false, calls: [], error: String(err?.message ?? err) };
  }
  return Response.json(outcome);
}
