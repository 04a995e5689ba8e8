// Drives the system Chromium through the dashboard (run by tests/browser.rs, which starts the
// server and seeds it). Environment: BASE_URL, USERNAME, PASSWORD, DEVICE_ID, DUMP_ID,
// DUMP2_ID, CHROMIUM, SHOT_DIR. Exits non-zero on the first failed check.
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
  await page.goto(`${base}/devices/${deviceId}`);
  check(page.url().includes("/login?next="), `${name}: a page without a session leads to the login`);
  await shot("login");
  await page.getByLabel("User name").fill(env("USERNAME"));
  await page.getByLabel("Password").fill(env("PASSWORD"));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}/devices/${deviceId}`);
  check(true, `${name}: signed in and back on the device page`);
  return { context, page, shot, noOverflow, problems };
}

// Desktop, JavaScript on: browse, open the dump, delete it after confirming in place.
{
  const { context, page, shot, noOverflow, problems } = await session("desktop", {
    viewport: { width: 1280, height: 860 },
  });
  await page.goto(`${base}/`);
  await shot("home");
  await page.getByRole("link", { name: "Devices", exact: true }).click();
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
  await page.goto(`${base}/tokens`);
  await shot("tokens");
  check(problems.length === 0, `desktop: no console errors or CSP violations (${problems.join(" | ")})`);
  await context.close();
}

// Phone width: every page readable at 375 px; tables scroll inside their box.
{
  const { context, page, shot, noOverflow, problems } = await session("phone", {
    viewport: { width: 375, height: 740 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  for (const [what, path] of [
    ["home", "/"],
    ["devices", "/devices"],
    ["device", `/devices/${deviceId}`],
    ["coredump", `/devices/${deviceId}/coredumps/${dump2Id}`],
    ["models", "/models"],
    ["tokens", "/tokens"],
  ]) {
    await page.goto(`${base}${path}`);
    await noOverflow(what);
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
  await context.close();
}

await browser.close();
console.log("browser checks passed");
