// Function-test harness for JavaScript (Node); runs inside the sandbox next to untrusted code.
//
// `node js_harness.js tests.json`: load the user's code, call the function once per input,
// write one JSON line per test to fd 3: the return value serialised, or the error. It never
// sees expected values and decides nothing: the host compares. User output is captured per
// test by replacing process.stdout/stderr.write (console.* goes through them).
'use strict';
const fs = require('fs');

const RESULTS_FD = 3;
const OUTPUT_CAP = 16 * 1024;
const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

function emit(record) {
  fs.writeSync(RESULTS_FD, JSON.stringify(record) + '\n');
}

async function runCaptured(call) {
  const texts = { stdout: '', stderr: '' };
  const originals = {};
  for (const name of ['stdout', 'stderr']) {
    originals[name] = process[name].write;
    process[name].write = (chunk, encoding, cb) => {
      if (texts[name].length < OUTPUT_CAP) texts[name] += String(chunk);
      if (typeof encoding === 'function') encoding(); else if (typeof cb === 'function') cb();
      return true;
    };
  }
  try {
    return [await call(), texts.stdout.slice(0, OUTPUT_CAP), texts.stderr.slice(0, OUTPUT_CAP)];
  } finally {
    for (const name of ['stdout', 'stderr']) process[name].write = originals[name];
  }
}

function describeError(err) {
  if (err instanceof RangeError && /call stack/.test(err.message)) return String(err);
  const text = err && err.stack ? err.stack.split('\n').slice(0, 4).join('\n') : String(err);
  return text.slice(0, 2000);
}

function load(sourcePath, functionName) {
  const source = fs.readFileSync(sourcePath, 'utf8');
  if (functionName && !/^[A-Za-z_$][\w$]*$/.test(functionName)) {
    throw new Error(`invalid function name ${JSON.stringify(functionName)}`);
  }
  // Evaluate as a CommonJS-style body, then look the name up in that scope: this finds
  // `function f`, `const f = ...` and `module.exports = f` alike.
  const lookup = functionName
    ? `typeof ${functionName} !== 'undefined' ? ${functionName} : undefined` : 'undefined';
  const module = { exports: {} };
  const factory = new Function('module', 'exports', 'require', `${source}\n;return (${lookup});`);
  let found = factory(module, module.exports, require);
  if (found === undefined) {
    found = functionName ? module.exports[functionName] : module.exports;
  }
  if (typeof found !== 'function') {
    throw new Error(functionName ? `function '${functionName}' is not defined`
      : 'functionName is required unless module.exports is a function');
  }
  return found;
}

async function runOne(func, index, args) {
  const started = performance.now();
  const [[actualJson, error], stdout, stderr] = await runCaptured(async () => {
    let value;
    try {
      value = await func(...args);
    } catch (err) {
      return [null, describeError(err)];
    }
    try {
      return [JSON.stringify(value === undefined ? null : value), null];
    } catch (err) {
      return [null, `return value is not JSON-serialisable: ${err.message}`];
    }
  });
  const timeMs = Math.round(performance.now() - started);
  return { index, actual_json: actualJson, error, stdout, stderr, time_ms: timeMs };
}

async function main() {
  let func = null;
  const [error, stdout, stderr] = await runCaptured(async () => {
    try {
      func = load(config.source, config.function);
      return null;
    } catch (err) {
      return describeError(err);
    }
  });
  emit({ setup: true, error, stdout, stderr });
  if (error !== null) return;
  for (let index = 0; index < config.inputs.length; index++) {
    emit(await runOne(func, index, config.inputs[index]));
  }
}

main().catch((err) => {
  process.stderr.write(`harness failure: ${err}\n`);
  process.exit(70);
});
