// Drives Debian's headless Chromium through one scenario and prints what it observed
// as JSON on stdout; the pytest side (tests/browser/test_*.py) makes the assertions.
// playwright-core only talks to the browser: it never downloads one.
//   node tests/browser/drive.mjs '<json: {"scenario": "docs"|"widget"|"refused", ...}>'
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const TIMEOUT_MS = 30_000;

async function withPage(run) {
  const profile = mkdtempSync(path.join(tmpdir(), "devcapsules-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(TIMEOUT_MS);
  const seen = { console: [], cspViolations: [], requests: [], pageErrors: [] };
  page.on("console", (m) => seen.console.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => seen.pageErrors.push(String(e)));
  page.on("request", (r) => {
    const h = r.headers();
    seen.requests.push({
      method: r.method(),
      url: r.url(),
      authorization: h.authorization ? h.authorization.slice(0, 10) : null,
      sessionId: h["x-session-id"] || null,
    });
  });
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  try {
    const result = await run(page);
    seen.cspViolations = await page.evaluate(() => window.__csp).catch(() => ["<page gone>"]);
    return { ...seen, ...result };
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

// Swagger UI: expand one operation, "Try it out", fill parameters, "Execute"; the status
// shown in its live response table.
async function tryIt(page, pathText, params = {}, { keepOpen = false } = {}) {
  const block = page.locator(".opblock", {
    has: page.locator(`.opblock-summary-path[data-path="${pathText}"]`),
  }).first();
  await block.locator(".opblock-summary").first().click();
  await block.locator("button.try-out__btn").click();
  for (const [name, value] of Object.entries(params)) {
    await block.locator(`tr[data-param-name="${name}"] input`).fill(value);
  }
  await block.locator("button.execute").click();
  const status = block.locator(".live-responses-table .response .response-col_status").first();
  await status.waitFor();
  const body = await block.locator(".live-responses-table .response-col_description pre").first().textContent();
  const result = { status: (await status.textContent()).trim(), body };
  if (!keepOpen) await block.locator(".opblock-summary").first().click(); // collapse again
  return result;
}

// The Authorize dialog: log out of every scheme, then authorize only `scheme`.
async function authorize(page, scheme, token) {
  await page.locator(".auth-wrapper button.authorize").click();
  const dialog = page.locator(".dialog-ux .modal-ux");
  for (const logout of await dialog.locator("button.auth", { hasText: "Logout" }).all()) {
    await logout.click();
  }
  const container = dialog.locator(".auth-container", { hasText: scheme });
  await container.locator("input").fill(token);
  await container.locator("button.authorize").click();
  await dialog.locator("button.btn-done").first().click();
}

async function docs(page, { api, apiKey, accessToken, capsuleId, screenshot }) {
  await page.goto(`${api}/docs`);
  await page.locator(".opblock").first().waitFor();
  const title = (await page.locator(".information-container .title").first().textContent()).trim();
  const operations = await page.locator(".opblock").count();
  await authorize(page, "apiKeyAuth", apiKey);
  const capsule = await tryIt(page, "/api/v1/capsules/{id}", { id: capsuleId });
  await authorize(page, "bearerAuth", accessToken);
  const me = await tryIt(page, "/api/v1/auth/me");
  // Last, and left open for the screenshot: the page with a live answer.
  const health = await tryIt(page, "/health", {}, { keepOpen: true });
  await page.mouse.move(0, 0);
  await page.setViewportSize({ width: 1280, height: 1350 }); // down to the live answer
  await page.evaluate(() => window.scrollTo(0, 0));
  if (screenshot) await page.screenshot({ path: screenshot });
  return { title, operations, health, capsule, me };
}

async function readWidget(page) {
  return page.locator("#capsule-widget").evaluate((root) => ({
    ...root.dataset,
    title: root.querySelector(".title")?.textContent ?? null,
    problem: root.querySelector(".problem")?.textContent ?? null,
    code: root.querySelector("textarea")?.value ?? null,
    summary: root.querySelector(".summary")?.textContent ?? null,
    results: [...root.querySelectorAll("ol.results li")].map((li) => ({
      passed: li.classList.contains("pass"),
      hidden: li.dataset.hidden === "true",
      text: li.textContent,
    })),
    errorText: root.querySelector(".error")?.textContent ?? null,
  }));
}

// Wait for the widget to reach a state; on a timeout, say what state it is in instead.
async function waitForWidget(page, attributes) {
  try {
    await page.locator(`#capsule-widget${attributes}`).waitFor({ timeout: 20_000 });
  } catch (error) {
    const state = await readWidget(page).catch(() => "<unreadable>");
    throw new Error(`widget never matched ${attributes}; it shows ${JSON.stringify(state)}`);
  }
}

async function runTests(page, code, runNumber) {
  await page.locator("#capsule-widget textarea").fill(code);
  await page.locator("#capsule-widget button.run").click();
  await waitForWidget(page, `[data-runs="${runNumber}"][data-state="ready"]`);
  return readWidget(page);
}

function widgetUrl({ site, api, apiKey, capsuleId }) {
  const fragment = new URLSearchParams({ api, capsule: capsuleId, key: apiKey });
  return `${site}/examples/widget.html#${fragment}`;
}

async function widget(page, options) {
  await page.goto(widgetUrl(options));
  await waitForWidget(page, '[data-capsule-view-reported="true"]');
  const loaded = await readWidget(page);
  const wrong = await runTests(page, options.wrongCode, 1);
  // The screenshot shows the failures (a hidden test as pass/fail only).
  if (options.screenshot) await page.locator("#capsule-widget").screenshot({ path: options.screenshot });
  const right = await runTests(page, options.rightCode, 2);
  await waitForWidget(page, '[data-capsule-completed-reported="true"]');
  return { loaded, wrong, right, completed: await readWidget(page) };
}

async function refused(page, options) {
  await page.goto(widgetUrl(options));
  await waitForWidget(page, '[data-state="error"]');
  const shown = await readWidget(page);
  // The same call the widget makes, observed directly: the browser refuses to hand
  // over the response (preflight denied), so fetch rejects.
  const direct = await page.evaluate(async ({ api, apiKey, capsuleId }) => {
    try {
      const r = await fetch(`${api}/api/v1/capsules/${capsuleId}`, {
        headers: { Authorization: `Bearer ${apiKey}` },
      });
      return { ok: true, status: r.status };
    } catch (error) {
      return { ok: false, error: `${error.name}: ${error.message}` };
    }
  }, options);
  if (options.screenshot) await page.locator("#capsule-widget").screenshot({ path: options.screenshot });
  return { shown, direct };
}

// One run with whatever key it was given: what the widget shows.
async function runOnce(page, options) {
  await page.goto(widgetUrl(options));
  await waitForWidget(page, '[data-state="ready"]');
  return { run: await runTests(page, options.rightCode, 1) };
}

const SCENARIOS = { docs, widget, refused, runOnce };
const options = JSON.parse(process.argv[2]);
const result = await withPage((page) => SCENARIOS[options.scenario](page, options));
process.stdout.write(JSON.stringify(result));
