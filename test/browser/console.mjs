// Drives the manager's web console in Debian's chromium (playwright-core), as an operator would:
//   node console.mjs MANAGER_URL ROOT_PASSWORD SCHEDULER_HOSTNAME
// Checks: the sign-in page; a wrong password says so; root signs in and sees the clusters, with
// the default one badged; search filters; a narrow window still shows the list; the schedulers
// page lists the registered scheduler as active, says no seed peer registered, and filters by
// state; an expired
// session (the token removed server-side is played by a bad token) goes back to sign-in with a
// notice; sign out; no console error or failed request on the way. Prints one line per check
// and exits non-zero at the first failure.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, password, schedulerHost] = process.argv.slice(2);
if (!url || !password || !schedulerHost) {
  console.error("usage: node console.mjs MANAGER_URL ROOT_PASSWORD SCHEDULER_HOSTNAME");
  process.exit(2);
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
  if (m.type() === "error" && !/401|Unauthorized/.test(m.text())) problems.push(`console: ${m.text()}`);
});
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("requestfailed", (r) => {
  // A navigation (reload, sign-out) may abort what is in flight; anything else is a failure.
  if (!/ERR_ABORTED/.test(r.failure()?.errorText ?? "")) problems.push(`request failed: ${r.url()}`);
});

function check(what, ok) {
  if (!ok) throw new Error(`FAILED: ${what}`);
  console.log(`ok: ${what}`);
}

try {
  await page.goto(url, { waitUntil: "networkidle" });
  check("the sign-in page shows", await page.getByRole("heading", { name: "Dragonfly" }).isVisible());

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

  await page.getByRole("link", { name: "Schedulers and seed peers" }).click();
  const sched = page.locator(`table[data-kind="scheduler"] tr[data-host="${schedulerHost}"]`);
  await sched.waitFor();
  check("the registered scheduler is listed as active", (await sched.locator(".state").innerText()) === "active");
  check("no seed peer registered says so", await page.getByText("No seed peer has registered with the manager yet.").isVisible());
  await page.getByLabel("State").selectOption("inactive");
  await page.getByText("No inactive scheduler.").waitFor();
  check("the state filter hides the active scheduler", !(await sched.isVisible()));
  check("the page is reachable by its address", page.url().endsWith("#/components"));
  await page.getByRole("link", { name: "Clusters" }).click();
  await page.getByRole("heading", { name: "Clusters" }).waitFor();

  // The session ends (the token no longer valid): the next call sends the user to sign-in.
  await page.evaluate(() => sessionStorage.setItem("df-console-token", "expired.token.value"));
  await page.reload({ waitUntil: "networkidle" });
  await page.getByText("Your session ended. Sign in again.").waitFor();
  check("an expired session goes back to sign-in with a notice", true);

  await page.getByLabel("Name").fill("root");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor();
  check("sign out returns to the sign-in page", !(await page.getByText("Your session ended").isVisible()));

  check(`no console errors or failed requests (${problems.join("; ")})`, problems.length === 0);
} catch (e) {
  console.log(String(e && e.message ? e.message : e));
  console.log(`page at failure: ${page.url()}\n${await page.locator("body").innerText().catch(() => "?")}`);
  if (problems.length) console.log(`problems: ${problems.join("; ")}`);
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
