// Drives the manager's web console in Debian's chromium (playwright-core), as an operator would:
//   node console.mjs MANAGER_URL ROOT_PASSWORD SCHEDULER_HOSTNAME SEED_PEER_HOSTNAME FILE_URL
//        IMAGE_MANIFEST_URL
// It asks its caller to act on the cluster by printing "step: NAME ARGS..." and waiting for a line
// on stdin ("ok [ANSWER]" or what went wrong): "step: config-saved VERSION LIMIT" (the caller checks
// the running scheduler took the config), "step: blocklist-saved VERSION" (the scheduler took it
// and a download it names is refused), "step: image-preheated" (the image is preheated into the
// seed peer), "step: start-download" (four peers pull one layer), "step: downloads-done" (they all
// finished, bytes checked), "step: cache-imported" (dfcache imports a file on peer-0 with two
// replicas, application "train", tag "v1"; answers its task ID), "step: cache-deleted ID" (no host
// exports it any more), "step: kill-scheduler", "step: use-token TOKEN" (lists /oapi/v1/jobs
// with it), "step: token-refused TOKEN", "step: end-session" (the caller changes root's password
// and answers the new one), "step: signin NAME PASSWORD" (through the API).
// Checks: the sign-in page; a wrong password says so; root signs in by keyboard and sees the
// clusters, the default one badged; search filters; Tab reaches the menu (focus ring) and Enter
// follows a link; the schedulers page lists the registered scheduler and seed peer as active and
// filters by state; the peers page groups the peers by version and exports them as CSV; a cluster
// is created with scopes and settings (a wrong CIDR refused first); the default cluster's
// candidate parent limit is changed and the running scheduler takes it; its blocklist is edited
// (a bad regex refused with the manager's message); the cluster page lists its scheduler and seed
// peer; a file preheat is followed to SUCCESS with per-host results, listed, and its task found on
// the seed peer and deleted everywhere; which hosts hold each blob of an image; the live swarm
// view of four peers pulling a layer (nodes, edges with rates, the origin marked, completion); the
// persistent cache page lists a task imported with dfcache (holders, replicas, time left, search)
// and root deletes it after a confirmation; the killed scheduler turns inactive and root deletes it; a session ended by a password change goes
// back to sign-in with a notice; users (the last root cannot demote itself; a guest added), a
// token created, used by a script and revoked; a guest refused the root pages and changing their
// own password; sign-up; sign out; every page of the guide fits a 420 px window; no console
// error or failed request on the way. Prints one line per check and exits non-zero at the first
// failure.
import { chromium } from "playwright-core";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const [url, password, schedulerHost, seedHost, fileUrl, imageUrl] = process.argv.slice(2);
if (!url || !password || !schedulerHost || !seedHost || !fileUrl || !imageUrl) {
  console.error("usage: node console.mjs MANAGER_URL ROOT_PASSWORD SCHEDULER_HOSTNAME SEED_PEER_HOSTNAME FILE_URL IMAGE_MANIFEST_URL");
  process.exit(2);
}

// Asks the caller to do something to the cluster; resolves with its one-line answer.
const stdin = createInterface({ input: process.stdin });
const answers = stdin[Symbol.asyncIterator]();
async function step(...what) {
  console.log(`step: ${what.join(" ")}`);
  const { value, done } = await answers.next();
  const [status, ...rest] = done ? ["(no answer)"] : value.trim().split(" ");
  if (status !== "ok") throw new Error(`FAILED: step ${what[0]}: ${value}`);
  return rest.join(" ");
}

const problems = [];
const profile = mkdtempSync(join(tmpdir(), "df-console-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu"],
  viewport: { width: 1280, height: 800 },
});
const page = context.pages()[0] ?? (await context.newPage());
page.on("console", (m) => {
  // The answers the checks provoke on purpose: 401 (a wrong password, an ended session), 409
  // (a cluster name taken) and 400 (a bad blocklist regex, which only the manager's RE2 checks).
  if (m.type() === "error" && !/status of (400|401|409)/.test(m.text())) problems.push(`console: ${m.text()}`);
});
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
const responses = []; // the last API answers, printed when a check fails
page.on("response", (r) => {
  if (r.url().includes("/api/")) responses.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`);
  if (responses.length > 12) responses.shift();
});
page.on("requestfailed", (r) => {
  // A navigation (reload, sign-out) may abort what is in flight; anything else is a failure.
  if (!/ERR_ABORTED/.test(r.failure()?.errorText ?? "")) problems.push(`request failed: ${r.url()}`);
});

// Each page of the guide: with SCREENSHOTS=dir saved there as PNG (docs/console.md shows them),
// and checked in a narrow window.
async function shot(name) {
  if (process.env.SCREENSHOTS) await page.screenshot({ path: join(process.env.SCREENSHOTS, `${name}.png`), fullPage: true });
  await fitsNarrow(name);
}

// At 420 px the page does not scroll sideways and its forms, headings, actions, menu and the
// swarm graph fit the window (wide tables scroll in place).
async function fitsNarrow(name) {
  await page.setViewportSize({ width: 420, height: 800 });
  const tooWide = await page.evaluate(() => {
    const limit = window.innerWidth + 1;
    const out = [];
    if (document.documentElement.scrollWidth > limit) {
      // Name the outermost elements sticking out (their parent fits).
      const stickOut = [...document.querySelectorAll("body *")].filter(
        (el) => el.getBoundingClientRect().right > limit && el.parentElement.getBoundingClientRect().right <= limit,
      );
      out.push(`the page: ${stickOut.map((el) => el.tagName.toLowerCase() + (el.className ? `.${el.className}` : "")).join(" ")}`);
    }
    for (const el of document.querySelectorAll("form, fieldset, h1, h2, h3, .actions, nav, svg")) {
      if (!el.closest("table") && el.getBoundingClientRect().right > limit) out.push(el.tagName.toLowerCase() + (el.id ? `#${el.id}` : ""));
    }
    return out;
  });
  await page.setViewportSize({ width: 1280, height: 800 });
  check(`the ${name} page fits a 420 px window${tooWide.length ? ` (too wide: ${tooWide.join(", ")})` : ""}`, tooWide.length === 0);
}

function check(what, ok) {
  if (!ok) throw new Error(`FAILED: ${what}`);
  console.log(`ok: ${what}`);
}

try {
  await page.goto(url, { waitUntil: "networkidle" });
  check("the sign-in page shows", await page.getByRole("heading", { name: "Dragonfly" }).isVisible());
  await shot("signin");

  await page.getByLabel("Name").fill("root");
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  check("a wrong password is refused with a message", /password|credentials|invalid/i.test(await alert.innerText()));

  await page.getByLabel("Password").fill(password);
  await page.keyboard.press("Enter"); // keyboard only
  await page.getByRole("heading", { name: "Clusters" }).waitFor();
  const row = page.locator("tr[data-cluster]").first();
  await row.waitFor();
  check("root sees the clusters", (await page.locator("tr[data-cluster]").count()) >= 1);
  check("the default cluster is badged", await page.locator("tr[data-cluster] .badge", { hasText: "default" }).isVisible());

  const name = await row.getAttribute("data-cluster");
  await page.getByLabel("Search clusters").fill("no-such-cluster-xyz");
  await page.getByText('No cluster matches "no-such-cluster-xyz".').waitFor();
  check("a search without match says so", true);
  await page.getByLabel("Search clusters").fill(name.slice(0, 3));
  await page.locator(`tr[data-cluster="${name}"]`).waitFor();
  check("search finds the cluster by name", true);

  await page.setViewportSize({ width: 420, height: 800 });
  check("a narrow window still shows the list", await page.locator(`tr[data-cluster="${name}"]`).isVisible());
  await page.setViewportSize({ width: 1280, height: 800 });

  // The keyboard alone: Tab reaches the menu with a visible focus ring, Enter follows a link.
  let focused = "";
  for (let i = 0; i < 20 && focused !== "Jobs"; i++) {
    await page.keyboard.press("Tab");
    focused = await page.evaluate(() => document.activeElement?.textContent ?? "");
  }
  check("Tab reaches the menu", focused === "Jobs");
  check("the focused link shows a focus ring", await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle !== "none"));
  await page.keyboard.press("Enter");
  await page.waitForURL(/#\/jobs$/);
  check("Enter follows the focused link", true);

  await page.getByRole("link", { name: "Schedulers and seed peers" }).click();
  const sched = page.locator(`table[data-kind="scheduler"] tr[data-host="${schedulerHost}"]`);
  await sched.waitFor();
  await shot("components");
  check("the registered scheduler is listed as active", (await sched.locator(".state").innerText()) === "active");
  check("the seed peer is listed as active", (await page.locator(`table[data-kind="seed peer"] tr[data-host="${seedHost}"] .state`).innerText()) === "active");
  await page.getByLabel("State").selectOption("inactive");
  await page.getByText("No inactive scheduler.").waitFor();
  check("the state filter says when nothing matches", await page.getByText("No inactive seed peer.").isVisible());
  check("the state filter hides the active scheduler", !(await sched.isVisible()));
  check("the page is reachable by its address", page.url().endsWith("#/components"));
  const nav = page.getByRole("navigation");

  // Peers: the two daemons, grouped by version, exported as CSV.
  await nav.getByRole("link", { name: "Peers", exact: true }).click();
  await page.locator('table[data-kind="peer"] tr[data-host="peer-3"]').waitFor();
  const versions = page.locator('table[data-chart="versions"] tr[data-version]');
  check("the peers are grouped by version, all active", (await versions.count()) === 1 && (await versions.locator(".count").innerText()) === "4 / 4");
  check("the version group names the build", /^\d+\.\d+\.\d+ \(\w+\)$/.test(await versions.getAttribute("data-version")));
  await shot("peers");
  const [csv] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
  const csvText = readFileSync(await csv.path(), "utf8").trim().split("\r\n");
  check("the CSV export has a header and a row per peer", csvText.length === 5 && csvText[0].startsWith("host_name,") && csvText.slice(1).every((l) => /"peer-[0-3]"/.test(l)));

  await nav.getByRole("link", { name: "Clusters" }).click();
  await page.getByRole("heading", { name: "Clusters" }).waitFor();

  // A new cluster with scopes and settings; the form catches a wrong CIDR before sending.
  await page.getByRole("link", { name: "Add cluster" }).click();
  await page.getByLabel("Name", { exact: true }).fill("gpu-east");
  await page.getByLabel("Description").fill("GPU nodes in the east");
  await page.getByLabel("Location", { exact: true }).fill("china|hangzhou");
  await page.getByLabel("IDC", { exact: true }).fill("idc-east");
  await page.getByLabel("CIDRs (one per line)").fill("10.9.0.0/16\n10.10.0.0/33");
  await page.getByLabel("Host name regexes (one per line)").fill("^gpu-[0-9]+$");
  await page.getByLabel("Candidate parent limit").fill("5");
  await shot("cluster-new");
  await page.getByRole("button", { name: "Create cluster" }).click();
  check("a wrong CIDR is refused with a message", (await page.getByRole("alert").innerText()).includes("10.10.0.0/33"));
  await page.getByLabel("CIDRs (one per line)").fill("10.9.0.0/16");
  await page.getByRole("button", { name: "Create cluster" }).click();
  await page.getByRole("heading", { name: "gpu-east" }).waitFor();
  const facts = await page.locator("dl.facts").innerText();
  check("the new cluster shows its scopes", ["china|hangzhou", "idc-east", "10.9.0.0/16", "^gpu-[0-9]+$"].every((f) => facts.includes(f)));
  check("the new cluster shows its settings", (await page.locator('[data-setting="candidate_parent_limit"]').innerText()) === "5");
  await page.getByText("No scheduler has registered with the manager yet.").waitFor();
  check("a cluster without members says so", true);
  await nav.getByRole("link", { name: "Clusters" }).click();
  await page.locator('tr[data-cluster="gpu-east"]').waitFor();
  check("the new cluster is listed", true);
  await shot("clusters");
  await page.getByRole("link", { name: "Add cluster" }).click();
  await page.getByLabel("Name", { exact: true }).fill("gpu-east");
  await page.getByRole("button", { name: "Create cluster" }).click();
  check("a taken name is refused with the manager's message", /exist/i.test(await page.getByRole("alert").innerText()));

  // The default cluster, where the scheduler and the seed peer run: change a setting and the
  // running scheduler takes it.
  await nav.getByRole("link", { name: "Clusters" }).click();
  await page.locator("tr[data-cluster]", { has: page.locator(".badge") }).getByRole("link").click();
  const member = (kind, host) => page.locator(`table[data-kind="${kind}"] tr[data-host="${host}"] .state`);
  await member("scheduler", schedulerHost).waitFor();
  await shot("cluster");
  check("the cluster lists its scheduler as active", (await member("scheduler", schedulerHost).innerText()) === "active");
  check("the cluster lists its seed peer as active", (await member("seed peer", seedHost).innerText()) === "active");
  const before = Number(await page.locator('[data-setting="config_version"]').innerText());
  await page.getByRole("link", { name: "Edit" }).click();
  await page.getByLabel("Candidate parent limit").fill("3");
  await page.getByRole("button", { name: "Save" }).click();
  await page.locator('[data-setting="candidate_parent_limit"]', { hasText: "3" }).waitFor();
  const version = Number(await page.locator('[data-setting="config_version"]').innerText());
  check("saving the config gives it a new version", version === before + 1);
  await step("config-saved", version, 3);
  check("the running scheduler took the new config", true);

  // The blocklist: peers of this cluster refuse a URL pattern; the scheduler applies it and a
  // download of a matching URL is refused (the Python side tries one).
  const blockedUrls = page.locator('textarea[name="client.urls"]');
  await blockedUrls.fill("/blocked\\.bin$");
  await page.getByRole("button", { name: "Save blocklist" }).click();
  const savedNote = page.locator("[data-blocklist-version]");
  await savedNote.waitFor();
  await shot("blocklist");
  await step("blocklist-saved", await savedNote.getAttribute("data-blocklist-version"));
  check("a download the blocklist names is refused", true);
  await page.reload();
  check("the saved blocklist is shown again", (await blockedUrls.inputValue()) === "/blocked\\.bin$");
  await page.locator('textarea[name="client.urls"]').fill("((");
  await page.getByRole("button", { name: "Save blocklist" }).click();
  check("a bad regex is refused with the manager's message", (await page.getByRole("alert").innerText()).includes("bad regex"));
  await blockedUrls.fill("");
  await page.getByRole("button", { name: "Save blocklist" }).click();
  await savedNote.waitFor();

  // A file preheat, followed live to its end, with a result per host.
  await nav.getByRole("link", { name: "Jobs" }).click();
  await page.getByText("No job yet: start a preheat.").waitFor();
  check("no job yet says so", true);
  await page.getByRole("link", { name: "New preheat" }).click();
  await page.getByRole("button", { name: "Start preheat" }).click();
  check("a preheat without URL is refused with a message", (await page.getByRole("alert").innerText()).includes("URLs"));
  await page.getByLabel("URLs (one per line)").fill(fileUrl);
  await page.getByLabel("Scope").selectOption("all_seed_peers");
  await shot("job-new");
  await page.getByRole("button", { name: "Start preheat" }).click();
  await page.locator('[data-job-state="SUCCESS"]').waitFor({ timeout: 60000 });
  check("the preheat reaches SUCCESS on its page without a reload", true);
  const seedResult = page.locator(`table[data-result="hosts"] tr[data-host="${seedHost}"]`);
  check("the job shows the seed peer's success", (await seedResult.innerText()).includes("success"));
  await shot("job");
  await nav.getByRole("link", { name: "Jobs" }).click();
  const listed = page.locator("tr[data-job]").first();
  await listed.waitFor();
  check("the job is listed with its state and URL", /SUCCESS/.test(await listed.innerText()) && (await listed.innerText()).includes(fileUrl));
  await page.getByLabel("Job state").selectOption("FAILURE");
  await page.getByText("No FAILURE job.").waitFor();
  check("the state filter says when no job matches", true);
  await page.getByLabel("Job state").selectOption("");
  await shot("jobs");

  // Which hosts hold the file's task, then delete it everywhere.
  await page.getByRole("link", { name: "Find or delete a task" }).click();
  await page.getByLabel("URL", { exact: true }).fill(fileUrl);
  await page.getByRole("button", { name: "Search" }).click();
  await page.locator(`[data-search-done] tr[data-host="${seedHost}"]`).waitFor({ timeout: 60000 });
  check("the task search finds the seed peer holding it", true);
  await shot("tasks");
  await page.getByRole("button", { name: "Delete it on every host" }).click();
  await page.locator('[data-delete-done="SUCCESS"]').waitFor({ timeout: 60000 });
  check("the task is deleted on every host", true);
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByText("No host holds this task.").waitFor({ timeout: 60000 });
  check("a new search finds it nowhere", true);

  // Which hosts hold each blob of an image (preheated into the seed peer by the Python side).
  await step("image-preheated");
  await page.getByLabel("Manifest URL").fill("registry.example/app:v1");
  await page.getByRole("button", { name: "Find the image" }).click();
  check("a manifest URL that is not one is refused with a message", (await page.getByRole("alert").innerText()).includes("manifest URL"));
  await page.getByLabel("Manifest URL").fill(imageUrl);
  await page.getByRole("button", { name: "Find the image" }).click();
  await page.locator('[data-image-search-done="SUCCESS"]').waitFor({ timeout: 60000 });
  const blobRows = page.locator('table[data-result="image-distribution"] tr[data-layer]');
  check("the image search lists the image's blobs", (await blobRows.count()) === 2);
  const heldBy = await blobRows.evaluateAll((rows) => rows.map((r) => r.querySelector("[data-holders]").dataset.holders));
  check("the seed peer holds each blob of the preheated image", heldBy.every((h) => h.split(" ").includes(seedHost)));
  await shot("image-search");

  // The live swarm view: four peers pull a layer at once; the view shows who feeds whom.
  await nav.getByRole("link", { name: "Swarm" }).click();
  await page.getByRole("heading", { name: "Swarm" }).waitFor();
  await step("start-download");
  const taskLink = page.getByRole("link", { name: /layer\.bin$/ });
  await taskLink.waitFor({ timeout: 30000 });
  await taskLink.click();
  await page.locator("svg.swarm").waitFor();
  // (A host may hold more than one peer of a task: nodes are peers, named by their host.)
  for (const host of ["peer-0", "peer-1", "peer-2", "peer-3"]) {
    await page.locator(`svg.swarm [data-node="${host}"]`).first().waitFor({ timeout: 30000 });
  }
  check("the swarm view shows the four peers and the seed", await page.locator('svg.swarm [data-node="seed-0"]').first().isVisible());
  // (Edges are waited for as attached, not visible: a vertical or horizontal line has no area.)
  const flowing = page.locator('svg.swarm line[data-edge^="peer-"][data-rate]:not([data-rate="0"])').first();
  await flowing.waitFor({ state: "attached", timeout: 30000 });
  check("the swarm view shows pieces flowing between peers", Number(await flowing.getAttribute("data-rate")) > 0);
  await shot("swarm");
  await page.locator('svg.swarm line[data-back-to-source="true"]').first().waitFor({ state: "attached", timeout: 30000 });
  check("the origin's edge is marked back-to-source", true);
  await step("downloads-done");
  for (const host of ["peer-0", "peer-1", "peer-2", "peer-3"]) {
    await page.locator(`svg.swarm [data-node="${host}"][data-phase="succeeded"]`).first().waitFor({ timeout: 30000 });
  }
  const unfinished = 'svg.swarm g[data-node^="peer-"]:not([data-phase="succeeded"])';
  await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 0, unfinished, { timeout: 30000 });
  check("no peer of the swarm is left unfinished", (await page.locator(unfinished).count()) === 0);
  check("the swarm view follows the download to completion", true);
  const summary = await page.locator('[data-summary="swarm"]').innerText();
  check(`the swarm view says where the bytes came from (${summary})`, /traded between peers/.test(summary) && !/^0 of/.test(summary));

  // The persistent cache: a file imported with dfcache on peer-0 (two replicas), then deleted.
  const cacheTask = await step("cache-imported");
  const id16 = cacheTask.slice(0, 16);
  await nav.getByRole("link", { name: "Persistent cache" }).click();
  const cacheRow = page.locator(`tr[data-cache-task="${cacheTask}"]`);
  await page.locator(`tr[data-cache-task="${cacheTask}"][data-state="ready"] [data-replicas="2/2"]`).waitFor({ timeout: 30000 });
  check("the persistent cache lists the imported task, ready with 2 of 2 replicas", true);
  check("the task shows its application and tag", (await cacheRow.locator("td").first().innerText()).includes("train · v1"));
  const holders = (await cacheRow.locator("[data-holders]").getAttribute("data-holders")).split(" ");
  check(`the task's holders are peer-0 and the seed peer (${holders.join(", ")})`, holders.length === 2 && holders.includes("peer-0") && holders.includes(seedHost));
  check("the task's time left is shown", /^in \d+ min$/.test((await cacheRow.locator("td").nth(4).innerText()).trim()));
  await page.getByLabel("Search tasks").fill("no-such-application");
  await page.getByText('No task matches "no-such-application".').waitFor();
  await page.getByLabel("Search tasks").fill("train");
  await cacheRow.waitFor();
  check("the search filters the tasks by application", true);
  await shot("cache");
  await page.getByRole("button", { name: `Delete ${id16}`, exact: true }).click();
  await page.getByRole("button", { name: "Keep" }).click();
  check("a delete asks first and can be taken back", await cacheRow.isVisible());
  await page.getByRole("button", { name: `Delete ${id16}`, exact: true }).click();
  await page.getByRole("button", { name: `Delete ${id16} for good` }).click();
  const deleted = page.locator("[data-cache-deleted]");
  await deleted.waitFor({ timeout: 30000 });
  check(`root deletes the task from both holders (${await deleted.innerText()})`, (await deleted.innerText()).includes("from 2 hosts"));
  await page.getByText("No persistent cache task in the cluster").waitFor({ timeout: 30000 });
  await step("cache-deleted", cacheTask);
  check("the deleted task can no longer be exported", true);

  // The scheduler dies: the page turns it inactive by itself, and root deletes it.
  await step("kill-scheduler");
  await nav.getByRole("link", { name: "Schedulers and seed peers" }).click();
  await page.locator(`table[data-kind="scheduler"] tr[data-host="${schedulerHost}"] .state-inactive`).waitFor({ timeout: 30000 });
  check("the killed scheduler turns inactive without a reload", true);
  check("the seed peer stays active", (await member("seed peer", seedHost).innerText()) === "active");
  await page.getByRole("button", { name: `Delete scheduler ${schedulerHost}` }).click();
  await page.getByText("No scheduler has registered with the manager yet.").waitFor();
  check("root deletes the inactive scheduler", true);

  // Users: the last root cannot demote itself; root adds a guest.
  await nav.getByRole("link", { name: "Users" }).click();
  await page.locator('tr[data-user="root"]').waitFor();
  await page.getByLabel("Role of root").selectOption("guest");
  check("the last root cannot demote itself", (await page.getByRole("alert").innerText()).includes("last enabled root"));
  await page.getByLabel("User name").fill("alice");
  await page.getByLabel("Email").fill("alice@example.com");
  await page.getByLabel("Initial password").fill("alice-password-1");
  await page.getByRole("button", { name: "Add user" }).click();
  await page.locator('tr[data-user="alice"]').waitFor();
  check("root adds a guest user", (await page.getByLabel("Role of alice").inputValue()) === "guest");
  check("root is still root", (await page.getByLabel("Role of root").inputValue()) === "root");
  await shot("users");

  // Tokens: one is created (its secret shown once) and works from a script until revoked.
  await nav.getByRole("link", { name: "Tokens" }).click();
  await page.getByText("No token yet.").waitFor();
  await page.getByLabel("Token name").fill("ci");
  await page.getByLabel("Token description").fill("the release pipeline");
  await page.getByRole("button", { name: "Create token" }).click();
  const secret = await page.locator('[data-secret="token"]').innerText();
  await page.locator('tr[data-token="ci"]').waitFor();
  await shot("tokens");
  await step("use-token", secret);
  check("the new token lists the jobs on /oapi/v1/jobs", true);
  await page.getByRole("button", { name: "Revoke ci" }).click();
  await page.locator('tr[data-token="ci"] .state', { hasText: "revoked" }).waitFor();
  await step("token-refused", secret);
  check("the revoked token is refused", true);

  // The session ends: root's password is changed elsewhere, which ends every session signed in
  // with the old one; the next call sends the user to sign-in with a notice.
  const newPassword = await step("end-session");
  await page.evaluate(() => (location.hash = "#/clusters")); // (the page may have noticed first)
  await page.getByText("Your session ended. Sign in again.").waitFor();
  check("an ended session goes back to sign-in with a notice", true);

  await page.getByLabel("Name").fill("root");
  await page.getByLabel("Password").fill(newPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  check("sign out returns to the sign-in page", !(await page.getByText("Your session ended").isVisible()));

  // A guest: no root pages, and their own password.
  await page.getByLabel("Name").fill("alice");
  await page.getByLabel("Password").fill("alice-password-1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Clusters" }).waitFor();
  check("a guest has no Users page in the menu", !(await nav.getByRole("link", { name: "Users" }).isVisible()));
  check("a guest cannot add clusters", !(await page.getByRole("link", { name: "Add cluster" }).isVisible()));
  await page.evaluate(() => (location.hash = "#/users"));
  await page.getByText("This page needs the root role.").waitFor();
  check("a guest is refused the users page", true);
  await nav.getByRole("link", { name: "alice (guest)" }).click();
  await page.getByLabel("Current password").fill("alice-password-1");
  await page.getByLabel("New password", { exact: true }).fill("alice-password-2");
  await page.getByLabel("New password again").fill("alice-password-3");
  await page.getByRole("button", { name: "Change password" }).click();
  check("a mistyped new password is caught", (await page.getByRole("alert").innerText()).includes("differ"));
  await page.getByLabel("New password again").fill("alice-password-2");
  await page.getByRole("button", { name: "Change password" }).click();
  await page.getByText("Password changed.").waitFor();
  await shot("profile");
  await step("signin", "alice", "alice-password-2");
  check("a guest changes their password and stays signed in", await nav.isVisible());
  await nav.getByRole("link", { name: "Clusters" }).click();
  await page.locator("tr[data-cluster]").first().waitFor();
  check("the session goes on with the new password", true);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor();

  // Sign-up (this manager allows it): a new guest, signed in at once.
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByLabel("Name").fill("bob");
  await page.getByLabel("Password", { exact: true }).fill("bob-password-1");
  await page.getByLabel("Password again").fill("bob-password-2");
  await page.getByRole("button", { name: "Create account" }).click();
  check("a mistyped sign-up password is caught", (await page.getByRole("alert").innerText()).includes("differ"));
  await page.getByLabel("Password again").fill("bob-password-1");
  await shot("signup");
  await page.getByRole("button", { name: "Create account" }).click();
  await nav.getByRole("link", { name: "bob (guest)" }).waitFor();
  check("a sign-up makes a guest and signs them in", !(await nav.getByRole("link", { name: "Users" }).isVisible()));
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor();

  check(`no console errors or failed requests (${problems.join("; ")})`, problems.length === 0);
} catch (e) {
  console.log(String(e && e.message ? e.message : e));
  console.log(`page at failure: ${page.url()}\n${await page.locator("body").innerText().catch(() => "?")}`);
  if (problems.length) console.log(`problems: ${problems.join("; ")}`);
  console.log(`last API answers: ${responses.join(", ")}`);
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  stdin.close(); // else it keeps node running
}
