// The bridge worker: runs INSIDE workerd (Miniflare) with the D1, KV and Queue
// bindings declared in wrangler.toml, and exposes them over HTTP as a small JSON RPC
// so a CPython process can drive the real simulators. Its queue() handler is the
// consumer Miniflare delivers to; it forwards each batch to the CPython side (through
// the CALLBACK service binding, implemented in Node by bridge.mjs) and applies the
// ack/retry calls it gets back, so batching, retries and dead-lettering stay
// Miniflare's own.
//
// Wire encoding (both directions): JSON, plus two tagged objects for what JSON
// cannot carry exactly: {"__dc_bytes__": base64} for blobs/ArrayBuffers and
// {"__dc_bigint__": "digits"} for integers outside JS's safe range. Python ints
// beyond 2^53 become BigInt here, which is also what Pyodide's to_js does on the edge.
// Results: an integral number outside the safe range is sent as {"__dc_float__": "..."}
// because Pyodide hands such a number to Python as a float, not an int.

const BYTES = "__dc_bytes__";
const BIGINT = "__dc_bigint__";
const FLOAT = "__dc_float__";

function toBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value === null || typeof value !== "object") return value;
  if (BYTES in value) return fromBase64(value[BYTES]);
  if (BIGINT in value) return BigInt(value[BIGINT]);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
}

export function encode(value) {
  if (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value)) {
    return { [FLOAT]: String(value) };
  }
  if (typeof value === "bigint") return { [BIGINT]: value.toString() };
  if (value instanceof ArrayBuffer) return { [BYTES]: toBase64(new Uint8Array(value)) };
  if (ArrayBuffer.isView(value)) {
    return { [BYTES]: toBase64(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
  }
  if (Array.isArray(value)) return value.map(encode);
  if (value instanceof Date) return value.getTime();
  if (value === null || value === undefined || typeof value !== "object") return value ?? null;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
}

function statement(db, { sql, params }) {
  const stmt = db.prepare(sql);
  return params && params.length ? stmt.bind(...decode(params)) : stmt;
}

async function d1(env, req) {
  const db = env[req.binding ?? "DB"];
  switch (req.op) {
    case "d1.first":
      return req.column == null
        ? statement(db, req).first()
        : statement(db, req).first(req.column);
    case "d1.all":
      return statement(db, req).all();
    case "d1.run":
      return statement(db, req).run();
    case "d1.raw":
      return statement(db, req).raw({ columnNames: Boolean(req.columnNames) });
    case "d1.batch":
      return db.batch(req.statements.map((s) => statement(db, s)));
    case "d1.exec":
      return db.exec(req.sql);
  }
  throw new TypeError(`unknown D1 op ${req.op}`);
}

async function kv(env, req) {
  const ns = env[req.binding ?? "KV"];
  switch (req.op) {
    case "kv.get":
      return ns.get(req.key, { type: req.type ?? "text" });
    case "kv.getWithMetadata":
      return ns.getWithMetadata(req.key, { type: req.type ?? "text" });
    case "kv.put":
      return ns.put(req.key, decode(req.value), decode(req.options ?? {}));
    case "kv.delete":
      return ns.delete(req.key);
    case "kv.list":
      return ns.list(req.options ?? {});
  }
  throw new TypeError(`unknown KV op ${req.op}`);
}

async function queue(env, req) {
  const producer = env[req.binding ?? "GENERATION_QUEUE"];
  switch (req.op) {
    case "queue.send":
      return producer.send(decode(req.body), decode(req.options ?? {}));
    case "queue.sendBatch":
      return producer.sendBatch(decode(req.messages), decode(req.options ?? {}));
  }
  throw new TypeError(`unknown Queue op ${req.op}`);
}

async function dispatch(env, req) {
  const family = String(req.op).split(".")[0];
  if (family === "d1") return d1(env, req);
  if (family === "kv") return kv(env, req);
  if (family === "queue") return queue(env, req);
  if (req.op === "ping") return "pong";
  if (req.op === "consumer.set") {
    // Point queue delivery at another consumer URL (kept by the Node side).
    const response = await env.CALLBACK.fetch("http://callback/consumer", {
      method: "POST",
      body: JSON.stringify({ url: req.url ?? null }),
    });
    return response.json();
  }
  throw new TypeError(`unknown op ${req.op}`);
}

async function rpc(request, env) {
  let req;
  try {
    req = await request.json();
  } catch (err) {
    return Response.json({ ok: false, error: { name: "TypeError", message: String(err) } });
  }
  try {
    const result = await dispatch(env, req);
    return Response.json({ ok: true, result: encode(result) });
  } catch (err) {
    const error = { name: err?.name ?? "Error", message: err?.message ?? String(err) };
    return Response.json({ ok: false, error });
  }
}

function describe(batch) {
  return {
    queue: batch.queue,
    messages: batch.messages.map((m) => ({
      id: m.id,
      timestamp: m.timestamp.getTime(),
      attempts: m.attempts,
      body: encode(m.body),
    })),
  };
}

// Replay the consumer's calls, in its order, on the real batch: the platform decides
// precedence between per-message and batch-wide calls, not us.
function apply(batch, calls) {
  const byId = new Map(batch.messages.map((m) => [m.id, m]));
  for (const call of calls) {
    const options = call.delaySeconds == null ? undefined : { delaySeconds: call.delaySeconds };
    if (call.call === "ackAll") batch.ackAll();
    else if (call.call === "retryAll") batch.retryAll(options);
    else if (call.call === "ack") byId.get(call.id)?.ack();
    else if (call.call === "retry") byId.get(call.id)?.retry(options);
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (request.method === "POST" && url.pathname === "/rpc") return rpc(request, env);
    if (url.pathname === "/health") return Response.json({ ok: true });
    return new Response("not found", { status: 404 });
  },

  async queue(batch, env) {
    const response = await env.CALLBACK.fetch("http://callback/batch", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(describe(batch)),
    });
    const outcome = await response.json();
    apply(batch, outcome.calls ?? []);
    // A consumer that raised: the platform retries every message not explicitly acked.
    if (!outcome.ok) throw new Error(`consumer failed: ${outcome.error ?? response.status}`);
  },
};
