// Drives the system Chromium through the dashboard (run by tests/browser.rs, which starts the
// server and seeds it). Environment: BASE_URL, USERNAME, PASSWORD, DEVICE_ID, DUMP_ID,
// DUMP2_ID, GROUP_ID (a crash group with a decoded sample), MERGED_GROUP_ID (a group of the same
// model, merged into GROUP_ID without JavaScript), SAMPLE_DEVICE_ID and SAMPLE_DUMP_ID (a
// grouped dump; SAMPLE_IN_APP=1 when it has source lines, so an in-app frame to highlight),
// UNDECODED_DUMP_ID (a dump waiting for its firmware), MODEL and RELEASE (a model with a
// canary of version RELEASE), CANARY_DEVICE_ID, CHROMIUM, SHOT_DIR.
// Exits non-zero on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing env ${k}`);
  return v;
};
const base = env("BASE_URL");
const shots = env("SHOT_DIR");
const deviceId = env("DEVICE_ID");
const dumpId = env("DUMP_ID");
const dump2Id = env("DUMP2_ID");
const groupId = env("GROUP_ID");
const mergedGroupId = env("MERGED_GROUP_ID");
const undecodedUrl = `/devices/${deviceId}/coredumps/${env("UNDECODED_DUMP_ID")}`;
const sampleUrl = `/devices/${env("SAMPLE_DEVICE_ID")}/coredumps/${env("SAMPLE_DUMP_ID")}`;
const model = env("MODEL");
const release = env("RELEASE");
const modelUrl = `/models/${model}`;
const releaseUrl = `/models/${model}/releases/${release}`;
const canaryDeviceId = env("CANARY_DEVICE_ID");
mkdirSync(shots, { recursive: true });

const check = (cond, what) => {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
};

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
  ],
});

async function session(name, options) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  const shot = async (what) => {
    await page.screenshot({ path: `${shots}/${name}-${what}.png`, fullPage: true });
  };
  const noOverflow = async (what) => {
    const width = options.viewport.width;
    const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
    check(scroll <= width, `${name}: ${what} fits ${width}px without sideways scrolling (${scroll})`);
  };
  // The frame table never scrolls sideways, not even inside its box.
  const framesFit = async (what) => {
    const boxes = await page.evaluate(() =>
      [...document.querySelectorAll(".frames-wrap")].map((e) => [e.scrollWidth, e.clientWidth]),
    );
    check(boxes.length > 0, `${name}: ${what} has a frame table`);
    for (const [scroll, client] of boxes) {
      check(scroll <= client, `${name}: ${what} frame table fits its box (${scroll} <= ${client})`);
    }
  };
  await page.goto(`${base}/devices/${deviceId}`);
  check(page.url().includes("/login?next="), `${name}: a page without a session leads to the login`);
  await shot("login");
  await page.getByLabel("User name").fill(env("USERNAME"));
  await page.getByLabel("Password").fill(env("PASSWORD"));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}/devices/${deviceId}`);
  check(true, `${name}: signed in and back on the device page`);
  return { context, page, shot, noOverflow, framesFit, problems };
}

// Desktop, JavaScript on: browse, open the dump, delete it after confirming in place.
{
  const { context, page, shot, noOverflow, framesFit, problems } = await session("desktop", {
    viewport: { width: 1280, height: 860 },
  });
  await page.goto(`${base}/`);
  check(await page.getByRole("heading", { name: "Problems", level: 1 }).isVisible(), "desktop: home is the Problems page");
  check((await page.locator("table.groups tbody tr").count()) >= 3, "desktop: crash groups listed");
  check((await page.locator("table.groups .badge-regressed").count()) === 1, "desktop: the regression is marked");
  await noOverflow("problems page");
  await shot("problems");
  await page.getByRole("link", { name: "Dumps", exact: true }).click();
  await page.waitForURL(`${base}/?sort=count`);
  check(await page.locator('th[aria-sort="descending"]').textContent().then((t) => t.includes("Dumps")), "desktop: sorted by dumps");
  await page.getByLabel("Status").selectOption("muted");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/status=muted/);
  check((await page.locator("table.groups tbody tr").count()) === 1, "desktop: status filter leaves the muted group");
  await page.goto(`${base}/groups/${groupId}`);
  check((await page.locator("figure.chart svg rect").count()) === 30, "desktop: chart has a bar per day");
  check(await page.getByRole("heading", { name: "Latest sample" }).isVisible(), "desktop: latest sample shown");
  await noOverflow("group page");
  await shot("group");
  await page.getByRole("button", { name: "Mute", exact: true }).click();
  await page.waitForURL(`**/groups/${groupId}?done=group-muted`);
  check(await page.getByText("Crash group muted").isVisible(), "desktop: muted with a notice");
  await page.getByRole("button", { name: "Reopen", exact: true }).click();
  await page.waitForURL(`**/groups/${groupId}?done=group-reopened`);
  check(await page.getByText("Crash group reopened.").isVisible(), "desktop: reopened with a notice");
  await page.goto(`${base}${sampleUrl}`);
  if (process.env.SAMPLE_IN_APP === "1") {
    check((await page.locator("tr.frame-app").count()) === 1, "desktop: the in-app frame is highlighted");
  }
  await framesFit("grouped dump page");
  await shot("grouped-coredump");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Devices", exact: true }).click();
  await shot("devices");
  await page.goto(`${base}/devices/${deviceId}`);
  const row = page.locator(`a[href="/devices/${deviceId}/coredumps/${dumpId}"]`).first();
  check(await row.isVisible(), "desktop: the device lists the uploaded dump");
  const time = await page.locator("td time").first().textContent();
  check(!time.endsWith("UTC"), `desktop: upload time shown in local time (${time})`);
  await shot("device");
  await row.click();
  await page.waitForURL(`**/coredumps/${dumpId}`);
  check(await page.getByRole("heading", { name: "Crash summary" }).isVisible(), "desktop: crash summary shown");
  check(await page.getByRole("button", { name: "Copy report" }).isVisible(), "desktop: copy button enabled by JS");
  await noOverflow("dump page");
  await shot("coredump");
  page.once("dialog", async (d) => {
    check(d.message().includes(`Delete core dump #${dumpId}?`), "desktop: asks before deleting");
    await d.accept();
  });
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  await page.waitForURL(`**/devices/${deviceId}?done=dump-deleted`);
  check(await page.getByText("Core dump deleted.").isVisible(), "desktop: deletion confirmed by a notice");
  check(
    (await page.locator(`a[href="/devices/${deviceId}/coredumps/${dumpId}"]`).count()) === 0,
    "desktop: the dump is gone from the list",
  );
  await page.goto(`${base}/models`);
  await shot("models");
  await page.goto(`${base}${modelUrl}`);
  check((await page.locator("table#releases tbody tr").count()) >= 3, "desktop: the model page lists its releases side by side");
  check(await page.locator("table#releases").getByText("%").first().isVisible(), "desktop: releases show a crash-free rate");
  check((await page.locator("table#releases svg.crash-free-bar").count()) >= 2, "desktop: crash-free bars drawn");
  check((await page.locator("table#audit tbody tr").count()) >= 1, "desktop: rollout changes listed with who and when");
  check(await page.getByRole("button", { name: `Promote ${release} to all devices` }).isVisible(), "desktop: promote offered");
  await noOverflow("model page");
  await shot("model");
  await page.locator(`table#releases a[href="${releaseUrl}"]`).click();
  await page.waitForURL(`**${releaseUrl}`);
  check((await page.locator("figure.chart").count()) === 2, "desktop: the release page has two charts");
  check((await page.locator("figure.chart svg rect").count()) === 60, "desktop: a bar per day in each chart");
  check((await page.locator("#crash-free").textContent()).includes("%"), "desktop: the release's crash-free rate");
  await noOverflow("release page");
  await shot("release");
  await page.goto(`${base}/tokens`);
  await shot("tokens");
  // Notifications: the add form shows only the chosen kind's fields.
  await page.goto(`${base}/notifications`);
  check(await page.locator("#ch-url").isVisible(), "desktop: a webhook asks for its URL");
  check(!(await page.locator("#ch-smtp-host").isVisible()), "desktop: a webhook hides the SMTP fields");
  await page.selectOption("#ch-kind", "email");
  check(await page.locator("#ch-smtp-host").isVisible(), "desktop: e-mail shows the SMTP fields");
  check(!(await page.locator("#ch-url").isVisible()), "desktop: e-mail hides the URL");
  await shot("notifications");
  // The audit log: the uploads and deletes above are in it, and the filter narrows it.
  await page.goto(`${base}/audit`);
  check((await page.locator("#audit tbody tr").count()) > 0, "desktop: the audit log lists changes");
  await page.selectOption("#f-action", "firmware.");
  await page.getByRole("button", { name: "Filter", exact: true }).click();
  await page.waitForURL("**/audit?**action=firmware.**");
  const actions = await page.locator("#audit tbody td.mono:nth-child(3)").allTextContents();
  check(actions.length > 0 && actions.every((a) => a.startsWith("firmware.")), `desktop: the audit filter keeps firmware changes only (${actions.join(", ")})`);
  await noOverflow("audit page");
  await shot("audit");
  check(problems.length === 0, `desktop: no console errors or CSP violations (${problems.join(" | ")})`);
  await context.close();
}

// Phone width: every page readable at 375 px; tables scroll inside their box.
{
  const { context, page, shot, noOverflow, framesFit, problems } = await session("phone", {
    viewport: { width: 375, height: 740 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  for (const [what, path] of [
    ["problems", "/"],
    ["group", `/groups/${groupId}`],
    ["grouped-coredump", sampleUrl],
    ["undecoded", undecodedUrl],
    ["devices", "/devices"],
    ["device", `/devices/${deviceId}`],
    ["coredump", `/devices/${deviceId}/coredumps/${dump2Id}`],
    ["models", "/models"],
    ["model", modelUrl],
    ["release", releaseUrl],
    ["tokens", "/tokens"],
    ["notifications", "/notifications"],
    ["audit", "/audit"],
  ]) {
    await page.goto(`${base}${path}`);
    await noOverflow(what);
    if (what.includes("coredump") || what === "group") await framesFit(what);
    if (what === "undecoded") {
      check(
        await page.getByText("No firmware 1.4.0 for model tempsensor yet").isVisible(),
        "phone: an undecoded dump says why",
      );
    }
    await shot(what);
  }
  check(problems.length === 0, `phone: no console errors (${problems.join(" | ")})`);
  await context.close();
}

// JavaScript off, dark scheme: the same deletion goes through the server's confirmation page.
{
  const { context, page, shot } = await session("nojs-dark", {
    viewport: { width: 1280, height: 860 },
    javaScriptEnabled: false,
    colorScheme: "dark",
  });
  await page.goto(`${base}/devices/${deviceId}/coredumps/${dump2Id}`);
  await shot("coredump");
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  await page.waitForURL(`**/coredumps/${dump2Id}/delete`);
  check(await page.getByText(`Delete core dump #${dump2Id}? This action cannot be undone.`).isVisible(), "no JS: confirmation page");
  await shot("confirm");
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  await page.waitForURL(`**/devices/${deviceId}?done=dump-deleted`);
  check(await page.getByText("Core dump deleted.").isVisible(), "no JS: deletion confirmed by a notice");
  check(
    (await page.locator(`a[href="/devices/${deviceId}/coredumps/${dump2Id}"]`).count()) === 0,
    "no JS: the dump is gone from the list",
  );
  await shot("device-empty");

  // Group actions without JavaScript: resolve in a version, then merge through the
  // confirmation page.
  await page.goto(`${base}/groups/${groupId}`);
  await shot("group");
  await page.getByLabel(/fixed in version/).fill("3.2");
  await page.getByRole("button", { name: "Resolve", exact: true }).click();
  await page.waitForURL(`**/groups/${groupId}?done=group-resolved`);
  check(await page.getByText("Crash group resolved.").isVisible(), "no JS: resolved with a notice");
  await page.goto(`${base}/groups/${mergedGroupId}`);
  await page.getByLabel("Merge into group #").fill(groupId);
  await page.getByRole("button", { name: "Merge…" }).click();
  await page.waitForURL(`**/groups/${mergedGroupId}/merge?into=${groupId}`);
  check(await page.getByText(`Merge crash group #${mergedGroupId} into #${groupId}?`).isVisible(), "no JS: merge asks first");
  await shot("merge-confirm");
  await page.getByRole("button", { name: "Merge", exact: true }).click();
  await page.waitForURL(`**/groups/${groupId}?done=group-merged`);
  check(await page.getByText("Crash groups merged").isVisible(), "no JS: merged with a notice");
  await shot("group-merged");

  // Rollout controls without JavaScript: promote the canary, then pin a device.
  await page.goto(`${base}${modelUrl}`);
  await page.getByRole("button", { name: `Promote ${release} to all devices` }).click();
  await page.waitForURL(`**${modelUrl}?done=rollout-promoted`);
  check(await page.getByText("Canary promoted").isVisible(), "no JS: canary promoted with a notice");
  await shot("model-promoted");
  await page.goto(`${base}/devices/${canaryDeviceId}`);
  await page.getByLabel("Pin to version").selectOption("3.0");
  await page.getByRole("button", { name: "Pin", exact: true }).click();
  await page.waitForURL(`**/devices/${canaryDeviceId}?done=ota-changed`);
  check((await page.locator("#ota-offer").textContent()) === "3.0", "no JS: the device is pinned");
  await shot("device-pinned");
  await context.close();
}

await browser.close();
console.log("browser checks passed");
