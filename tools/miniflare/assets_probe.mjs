// Answers paths the way Workers Static Assets does on the edge: Miniflare runs
// Cloudflare's own asset worker over the `[assets]` section that wrangler reads from
// wrangler.toml (for the given environment), in front of a stand-in Worker that
// answers 299 ("the Worker ran"). Prints {path: {status, headers}} as JSON, so a test
// can compare `devcapsules dev` with it path by path.
//   node tools/miniflare/assets_probe.mjs <environment or ""> <path>...
import path from "node:path";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { REPO_ROOT } from "./harness.mjs";

const [environment, ...paths] = process.argv.slice(2);
const { workerOptions } = unstable_getMiniflareWorkerOptions(
  path.join(REPO_ROOT, "wrangler.toml"),
  environment || undefined,
);
if (!workerOptions.assets) throw new Error(`no [assets] for environment "${environment}"`);

// Miniflare 5 takes its own config; wrangler still produces v4-style options (as in
// harness.mjs), converted by Miniflare itself.
const mf = new Miniflare(convertV4MiniflareOptions({
  log: new Log(LogLevel.WARN),
  modules: true,
  script: 'export default { fetch() { return new Response("worker", { status: 299 }); } };',
  compatibilityDate: workerOptions.compatibilityDate,
  assets: workerOptions.assets,
  cf: false, // offline: no request.cf download
}));
try {
  const answers = {};
  for (const p of paths) {
    const response = await mf.dispatchFetch(`http://localhost${p}`, { redirect: "manual" });
    await response.arrayBuffer();
    answers[p] = { status: response.status, headers: Object.fromEntries(response.headers) };
  }
  process.stdout.write(JSON.stringify(answers));
} finally {
  await mf.dispose();
}
