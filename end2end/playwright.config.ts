// Playwright runs in Debian's Chromium (/usr/bin/chromium): no browser is
// ever downloaded. BASE_URL is set by scripts/test.sh to the server it started.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { defineConfig, devices } from "@playwright/test";

const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  // A fake camera, so capture flows can run headless.
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
];

const launchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: chromiumArgs,
};

const projectMatches = {
  desktop: /(a11y|landing|desktop|desktop-widget|desktop-windows|desktop-earlier|desktop-dialogs|desktop-keyboard|healthz|pipeline)\.spec\.ts/,
  phone: /(mobile(-flow|-queue|-retake|-early)?|consent)\.spec\.ts/,
  "no-javascript": /server-rendered\.spec\.ts/,
  // WebKit and Firefox, driven by their own WebDriver clients (end2end/engines/).
  engines: /engines\.spec\.ts/,
};

// A spec that no project matches would silently never run: refuse the run.
const orphans = readdirSync(join(__dirname, "tests"))
  .filter((f) => f.endsWith(".spec.ts"))
  .filter((f) => !Object.values(projectMatches).some((re) => re.test(f)));
if (orphans.length > 0) {
  throw new Error(`spec files in no project (add them to playwright.config.ts): ${orphans.join(", ")}`);
}

export default defineConfig({
  testDir: "./tests",
  // The test command is what CI runs: a stray test.only must fail it, not narrow it.
  forbidOnly: true,
  // One retry, reported as "flaky" in the output. The known flake (a page
  // that never hydrated: under load it went out without its nonce's policy)
  // is fixed in the server (security::page_headers); the retry stays until
  // CI has shown it gone. waitForHydration prints what it needs if it recurs.
  retries: 1,
  outputDir: "./test-results",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  reporter: [["list"]],
  use: {
    baseURL: process.env.BASE_URL ?? "http://127.0.0.1:3000",
    launchOptions,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "desktop",
      use: { ...devices["Desktop Chrome"], viewport: { width: 1366, height: 900 }, launchOptions },
      testMatch: projectMatches.desktop,
    },
    {
      name: "phone",
      use: { ...devices["Pixel 7"], launchOptions },
      testMatch: projectMatches.phone,
    },
    {
      name: "no-javascript",
      use: { ...devices["Desktop Chrome"], javaScriptEnabled: false, launchOptions },
      testMatch: projectMatches["no-javascript"],
    },
    {
      name: "engines",
      testMatch: projectMatches.engines,
    },
  ],
});
