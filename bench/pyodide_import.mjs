// Import time of the Worker's entry module graph inside Pyodide 0.28 (npm `pyodide`).
// Only what loads offline: devcapsules.edge + the `workers` SDK; src/entry.py imports
// the app at its top level, and the app's pydantic needs a wasm core (pydantic-core)
// from Pyodide's package index, which cannot be loaded here.
//   node bench/pyodide_import.mjs SDK_DIR  -> one JSON line on stdout

import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadPyodide } from "pyodide";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const sdk = process.argv[2];

function copyTree(pyodide, from, to) {
  pyodide.FS.mkdirTree(to);
  for (const name of readdirSync(from)) {
    const source = path.join(from, name);
    if (statSync(source).isDirectory()) {
      if (name !== "__pycache__") copyTree(pyodide, source, `${to}/${name}`);
    } else if (name.endsWith(".py")) {
      pyodide.FS.writeFile(`${to}/${name}`, readFileSync(source));
    }
  }
}

const t0 = performance.now();
const pyodide = await loadPyodide();
const loaded = performance.now();
copyTree(pyodide, path.join(sdk, "workers"), "/b/sdk/workers");
copyTree(pyodide, path.join(REPO, "src"), "/b/src");
pyodide.FS.mkdirTree("/b/standins");
// Stand-ins for workerd's internal modules (see tests/pyodide/run_boundary.mjs).
pyodide.FS.writeFile("/b/standins/_pyodide_entrypoint_helper.py", "def patchWaitUntil(ctx): pass\n");
pyodide.FS.writeFile("/b/standins/_cloudflare_compat_flags.py", "def __getattr__(n): return False\n");
pyodide.runPython("import sys; sys.path[:0] = ['/b/standins', '/b/sdk', '/b/src']");
const result = JSON.parse(
  pyodide.runPython(`
import json, sys, time
def timed(name):
    start = time.perf_counter()
    __import__(name)
    return round((time.perf_counter() - start) * 1000, 1)
before = set(sys.modules)
sdk_ms = timed("workers")
entry_ms = timed("devcapsules.edge")
ours = sorted(m for m in set(sys.modules) - before if m.startswith("devcapsules"))
json.dumps({"workers_sdk_ms": sdk_ms, "edge_after_sdk_ms": entry_ms, "modules": ours})
`),
);
result.pyodide = pyodide.version;
result.pyodide_boot_ms = Math.round(loaded - t0);
process.stdout.write(`${JSON.stringify(result)}\n`);
