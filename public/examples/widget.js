// The DevCapsules embed widget: the reference for widget authors. Plain JS, no build step.
//
// Given a published capsule id, the API's base URL and an API key with the scopes
// `capsules:read` (read the capsule), `execute` (run its tests) and `analytics:write`
// (report views and completions), it shows the problem and the starter code, runs the
// capsule's tests (hidden ones answer pass/fail only: their inputs and expected values
// never leave the API), shows the results, and reports analytics events.
//
// Calls (all cross-origin when the widget lives on your site; your origin must be in the
// API's ALLOWED_ORIGINS, and the browser sends a CORS preflight for each because of the
// Authorization header):
//   GET  {api}/api/v1/capsules/{id}                 the public view of the capsule
//   POST {api}/api/v1/execute/tests  X-Session-Id   {"capsuleId", "userCode"}; the API
//        counts each run in the capsule's analytics under that session (a `test_run`)
//   POST {api}/api/v1/analytics/events  X-Session-Id  `capsule_view` once per page,
//        `capsule_completed` on the first fully passing run
//
// The page's state is mirrored in `data-*` attributes (data-state, data-passed, ...) so
// that a host page, or a test, can follow it without parsing text.

const SESSION_KEY = "devcapsules.session";

/** A learner session id: anonymous, per browser tab, never an identity. */
export function learnerSession(storage = window.sessionStorage) {
  let id = storage.getItem(SESSION_KEY);
  if (!id) {
    id = `s_${crypto.randomUUID()}`;
    storage.setItem(SESSION_KEY, id);
  }
  return id;
}

/** Calls the API with the key; resolves to the parsed JSON, rejects with an Error whose
 *  message says what failed (a refusal's error code, or that the API was unreachable). */
async function callApi(settings, path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${settings.apiKey}`, "X-Session-Id": settings.sessionId };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`${settings.apiBase}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (cause) {
    // A network failure and a CORS refusal look the same to a page: a TypeError.
    throw new Error(`Could not reach the API at ${settings.apiBase} (network error or origin not allowed)`, { cause });
  }
  const payload = await response.json().catch(() => null);
  if (!response.ok || !payload || payload.success === false) {
    const error = payload && payload.error ? `${payload.error.code}: ${payload.error.message}` : `HTTP ${response.status}`;
    throw new Error(`${method} ${path} failed (${response.status}) — ${error}`);
  }
  return payload;
}

function element(tag, attributes = {}, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  // textContent only: capsule text is data, never markup.
  if (text !== undefined) node.textContent = text;
  return node;
}

function event(settings, type, properties = {}) {
  return {
    id: `${type}_${crypto.randomUUID()}`,
    type,
    capsuleId: settings.capsuleId,
    sessionId: settings.sessionId,
    timestamp: new Date().toISOString(),
    properties,
  };
}

async function report(settings, root, type, properties) {
  try {
    await callApi(settings, "/api/v1/analytics/events", {
      method: "POST",
      body: { events: [event(settings, type, properties)] },
    });
    root.dataset[`${type.replace(/_(.)/g, (_, c) => c.toUpperCase())}Reported`] = "true";
  } catch (error) {
    // Analytics must never break the exercise: note it, keep going.
    root.dataset.analyticsError = error.message;
    console.warn("analytics event not recorded:", error.message);
  }
}

function renderCapsule(root, capsule) {
  root.replaceChildren(
    element("h1", { class: "title" }, capsule.title),
    element("p", { class: "meta" }, `${capsule.language} · ${capsule.difficulty} · ${capsule.testCases.length + capsule.hiddenTestCount} tests (${capsule.hiddenTestCount} hidden)`),
    element("div", { class: "problem" }, capsule.problem || capsule.description || ""),
  );
  const editor = element("textarea", { class: "code", spellcheck: "false", "aria-label": "Your code" });
  editor.value = capsule.starterCode || "";
  const run = element("button", { type: "button", class: "run" }, "Run tests");
  const results = element("section", { class: "results", "aria-label": "Test results" });
  root.append(editor, run, results);
  return { editor, run, results };
}

function renderResults(container, outcome) {
  const { passed, total, status } = outcome.summary;
  const summary = element("p", { class: `summary ${status === "passed" ? "passed" : "failed"}` },
    `${passed} of ${total} tests passed`);
  const list = element("ol", { class: "results" });
  outcome.results.forEach((result, index) => {
    const item = element("li", { class: result.passed ? "pass" : "fail", "data-hidden": String(Boolean(result.hidden)) });
    const label = element("span", { class: result.passed ? "pass-label" : "fail-label" }, result.passed ? "passed" : "failed");
    // Hidden tests: pass/fail only (the API sends nothing more).
    const name = result.hidden ? `Hidden test ${index + 1}` : (result.description || `Test ${index + 1}`);
    item.append(label, ` ${name}`);
    if (!result.hidden && !result.passed) {
      const detail = result.error ? result.error : `expected ${JSON.stringify(result.expected)}, got ${JSON.stringify(result.actual)}`;
      item.append(element("div", { class: "detail" }, detail));
    }
    list.append(item);
  });
  const parts = [summary, list];
  if (outcome.compileOutput) parts.push(element("pre", { class: "compile" }, outcome.compileOutput));
  container.replaceChildren(...parts);
}

function showError(root, message) {
  root.dataset.state = "error";
  root.dataset.error = message;
  root.append(element("p", { class: "error", role: "alert" }, message));
}

/** Mounts the widget into `root`. Returns a promise that settles once the capsule shows. */
export async function mountCapsuleWidget(root, { apiBase, apiKey, capsuleId, sessionId = learnerSession() }) {
  const settings = { apiBase: apiBase.replace(/\/+$/, ""), apiKey, capsuleId, sessionId };
  root.dataset.state = "loading";
  let capsule;
  try {
    ({ capsule } = await callApi(settings, `/api/v1/capsules/${encodeURIComponent(capsuleId)}`));
  } catch (error) {
    showError(root, error.message);
    return;
  }
  const { editor, run, results } = renderCapsule(root, capsule);
  root.dataset.state = "ready";
  report(settings, root, "capsule_view", { source: "widget" });
  let attempts = 0;
  let completed = false;
  run.addEventListener("click", async () => {
    run.disabled = true;
    root.dataset.state = "running";
    attempts += 1;
    try {
      const outcome = await callApi(settings, "/api/v1/execute/tests", {
        method: "POST",
        body: { capsuleId, userCode: editor.value },
      });
      renderResults(results, outcome);
      root.dataset.passed = String(outcome.summary.passed);
      root.dataset.total = String(outcome.summary.total);
      if (outcome.summary.status === "passed" && !completed) {
        completed = true;
        await report(settings, root, "capsule_completed", { attempts });
      }
      root.dataset.state = "ready";
    } catch (error) {
      results.replaceChildren(element("p", { class: "error", role: "alert" }, error.message));
      root.dataset.state = "ready";
      root.dataset.error = error.message;
    } finally {
      root.dataset.runs = String(attempts);
      run.disabled = false;
    }
  });
}

/** This page's own settings: the URL fragment (`#api=...&capsule=...&key=...`). */
function settingsFromFragment() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  return { apiBase: params.get("api") || window.location.origin, apiKey: params.get("key") || "", capsuleId: params.get("capsule") || "" };
}

const mountPoint = document.getElementById("capsule-widget");
if (mountPoint) {
  const settings = settingsFromFragment();
  if (!settings.apiKey || !settings.capsuleId) {
    showError(mountPoint, "Set the widget up in the URL fragment: #api=<API base URL>&capsule=<capsule id>&key=<dk_ API key>");
  } else {
    mountCapsuleWidget(mountPoint, settings);
  }
}
