// Runs our Workers boundary code (src/entry.py, devcapsules.edge) inside Pyodide 0.28,
// the interpreter the Workers runtime uses, with the real `workers` SDK and Miniflare's
// own D1/KV/Queue objects, then writes a JSON report (one entry per case).
//
//   node tests/pyodide/run_boundary.mjs --sdk DIR --site DIR --state DIR --report FILE
//        [--config wrangler.toml] [--only CASE]
//
// --site is the venv's site-packages: the pinned pure-Python httpx (and what it imports)
// is loaded from there, as pywrangler vendors it. A loopback HTTP server stands in for
// the executor service and the model provider (outbound HTTP goes through `fetch`).
//
// Stand-ins exist only for what workerd itself provides: the modules
// `_pyodide_entrypoint_helper` and `_cloudflare_compat_flags`, and the JS constructor
// names the SDK checks (`D1Database`, `KvNamespace`, `WorkerQueue`): Miniflare's Node
// proxies have other names, so thin JS classes of those names forward to them.

import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { loadPyodide } from "pyodide";
import { startHarness } from "../../tools/miniflare/harness.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..", "..");
const { values: args } = parseArgs({
  options: {
    sdk: { type: "string" },
    site: { type: "string" },
    state: { type: "string" },
    report: { type: "string" },
    config: { type: "string" },
    only: { type: "string" },
  },
});

// ------------------------------------------------ binding objects the SDK recognises

class D1PreparedStatement {
  constructor(inner) {
    this.inner = inner;
  }
  bind(...values) {
    return new D1PreparedStatement(this.inner.bind(...values));
  }
  first(column) {
    return column === undefined ? this.inner.first() : this.inner.first(column);
  }
  all() {
    return this.inner.all();
  }
  run() {
    return this.inner.run();
  }
  raw(options) {
    return this.inner.raw(options);
  }
}

class D1Database {
  constructor(inner) {
    this.inner = inner;
  }
  prepare(sql) {
    return new D1PreparedStatement(this.inner.prepare(sql));
  }
  batch(statements) {
    return this.inner.batch(statements.map((s) => s.inner));
  }
  exec(sql) {
    return this.inner.exec(sql);
  }
}

class KvNamespace {
  constructor(inner) {
    this.inner = inner;
  }
  get(key, options) {
    return this.inner.get(key, options);
  }
  getWithMetadata(key, options) {
    return this.inner.getWithMetadata(key, options);
  }
  put(key, value, options) {
    return this.inner.put(key, value, options);
  }
  delete(key) {
    return this.inner.delete(key);
  }
  list(options) {
    return this.inner.list(options);
  }
}

class WorkerQueue {
  constructor(inner) {
    this.inner = inner;
  }
  send(body, options) {
    return this.inner.send(body, options);
  }
  sendBatch(messages, options) {
    return this.inner.sendBatch(messages, options);
  }
}

// ------------------------------------------------ queue delivery from Miniflare

// What a delivered batch looks like to the handler; ack/retry calls are recorded and
// replayed by the bridge worker on Miniflare's real batch.
class QueueMessage {
  constructor(description, calls) {
    Object.assign(this, { id: description.id, attempts: description.attempts });
    this.timestamp = new Date(description.timestamp);
    this.body = description.body;
    this.calls = calls;
  }
  ack() {
    this.calls.push({ call: "ack", id: this.id });
  }
  retry(options) {
    this.calls.push({ call: "retry", id: this.id, delaySeconds: options?.delaySeconds });
  }
}

class MessageBatch {
  constructor(description, settle) {
    this.queue = description.queue;
    this.calls = [];
    this.messages = description.messages.map((m) => new QueueMessage(m, this.calls));
    this.settle = settle;
  }
  ackAll() {
    this.calls.push({ call: "ackAll" });
  }
  retryAll(options) {
    this.calls.push({ call: "retryAll", delaySeconds: options?.delaySeconds });
  }
  done(ok = true, error = undefined) {
    this.settle({ ok, calls: this.calls, error });
  }
}

const delivered = [];
const waiting = [];
function onBatch(description) {
  // The bridge only encodes bodies as JSON; tagged bytes/bigints are not used here.
  return new Promise((settle) => {
    const batch = new MessageBatch(description, settle);
    const waiter = waiting.shift();
    if (waiter) waiter(batch);
    else delivered.push(batch);
  });
}
// A batch made here (not delivered by Miniflare): for dispatch cases that need no queue.
function makeBatch(queue, bodies) {
  const messages = bodies.map((body, i) => ({ id: `m${i}`, attempts: 1, timestamp: Date.now(), body }));
  return new MessageBatch({ queue, messages }, () => {});
}

// ------------------------------------------------ what the runtime passes a handler
// Shaped after the Workers runtime API docs: `ctx` of every handler, the cron event.

class ExecutionContext {
  constructor() {
    this.promises = [];
    this.passedThrough = false;
    this.props = {};
  }
  waitUntil(promise) {
    this.promises.push(Promise.resolve(promise)); // as the runtime: any value, awaited
  }
  passThroughOnException() {
    this.passedThrough = true;
  }
  settled() {
    return Promise.allSettled(this.promises);
  }
}

class ScheduledController {
  constructor(cron, scheduledTime) {
    this.cron = cron;
    this.scheduledTime = scheduledTime;
    this.retrying = true;
  }
  noRetry() {
    this.retrying = false;
  }
}

function nextBatch() {
  const ready = delivered.shift();
  return ready ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
}

// ------------------------------------------------ a loopback HTTP server

// Answers like the services the Worker calls: /api/v1/execute/languages as the executor
// service does, /gzip with a compressed body, /slow never in time; anything else echoes.
function startLoopback() {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      if (req.url === "/slow") return; // answered never: the caller's timeout decides
      const echo = {
        method: req.method,
        path: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      if (req.url === "/api/v1/execute/languages") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ languages: [{ language: "python", version: "3.13" }], echo }));
      } else if (req.url === "/gzip") {
        res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
        res.end(gzipSync(JSON.stringify(echo)));
      } else {
        res.writeHead(200, { "content-type": "application/json", "x-reply": "a", "set-cookie": "s=1" });
        res.end(JSON.stringify(echo));
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` })),
  );
}

// ------------------------------------------------ Pyodide file system

function copyTree(pyodide, from, to, filter = () => true) {
  pyodide.FS.mkdirTree(to);
  for (const name of readdirSync(from)) {
    const source = path.join(from, name);
    if (statSync(source).isDirectory()) {
      if (name !== "__pycache__") copyTree(pyodide, source, `${to}/${name}`, filter);
    } else if (filter(name)) {
      pyodide.FS.writeFile(`${to}/${name}`, readFileSync(source));
    }
  }
}

const STAND_INS = {
  "_pyodide_entrypoint_helper.py": `
# Stand-in for workerd's module: what the SDK calls on it, doing nothing more.
cloudflareWorkersModule = None
cloudflareSocketsModule = None
def doAnImport(name):
    raise ImportError(name)
def patchWaitUntil(ctx):
    pass
def patch_env_helper(kwds):
    yield
`,
  "_cloudflare_compat_flags.py": `
# Stand-in for workerd's compat-flag module: every flag off unless named here.
python_request_headers_preserve_commas = True
def __getattr__(name):
    return False
`,
};

async function main() {
  const started = Date.now();
  const harness = await startHarness({
    config: args.config ?? path.join(REPO, "wrangler.toml"),
    stateDir: args.state,
    onBatch,
  });
  const { mf } = harness;
  const bindings = {
    DB: new D1Database(await mf.getD1Database("DB")),
    KV: new KvNamespace(await mf.getKVNamespace("KV")),
    GENERATION_QUEUE: new WorkerQueue(await mf.getQueueProducer("GENERATION_QUEUE")),
  };
  // wrangler.toml's top-level [vars] (development) with the bindings.
  const env = { ...harness.options.bindings, ...bindings };
  // An env as the runtime hands it over: the bindings plus exactly these vars/secrets.
  const envWith = (vars) => ({ ...bindings, ...Object.fromEntries(vars.entries()) });
  globalThis.boundary = {
    env,
    envWith,
    nextBatch,
    makeBatch,
    newContext: () => new ExecutionContext(),
    newController: (cron, time) => new ScheduledController(cron, time),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };

  const loopback = await startLoopback();
  globalThis.boundary.loopbackUrl = loopback.url;

  const loadStarted = Date.now();
  const pyodide = await loadPyodide();
  const loadMs = Date.now() - loadStarted;
  copyTree(pyodide, path.join(args.sdk, "workers"), "/boundary/sdk/workers");
  copyTree(pyodide, path.join(REPO, "src"), "/boundary/src", (n) => n.endsWith(".py"));
  // httpx (pinned in pyproject.toml) and its import-time dependencies, pure Python.
  for (const name of ["httpx", "idna", "certifi"]) {
    copyTree(pyodide, path.join(args.site, name), `/boundary/site/${name}`);
  }
  for (const name of ["boundary_cases.py", "runtime.py", "app_standin.py"]) {
    const target = name === "boundary_cases.py" ? "cases.py" : name;
    pyodide.FS.writeFile(`/boundary/${target}`, readFileSync(path.join(HERE, name)));
  }
  for (const [name, source] of Object.entries(STAND_INS)) {
    pyodide.FS.mkdirTree("/boundary/standins");
    pyodide.FS.writeFile(`/boundary/standins/${name}`, source);
  }
  pyodide.runPython(
    "import sys; sys.path[:0] = ['/boundary/standins', '/boundary/sdk', '/boundary/src', '/boundary', '/boundary/site']",
  );
  const runCases = pyodide.runPython("import cases; cases.run_all");
  const results = await runCases(args.only ?? null);
  const report = {
    pyodide: pyodide.version,
    pyodideLoadMs: loadMs,
    totalMs: Date.now() - started,
    cases: results,
  };
  writeFileSync(args.report, JSON.stringify(report, null, 1));
  loopback.server.closeAllConnections();
  loopback.server.close();
  await mf.dispose();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
