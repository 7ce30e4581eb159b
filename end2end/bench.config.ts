// Benchmarks (not tests): `scripts/bench.sh pipeline` runs them against a
// release build. Same Chromium and flags as the tests; one worker, so each
// measurement has the machine to itself.
import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

export default defineConfig({
  ...base,
  testDir: "./bench",
  testMatch: /\.bench\.ts$/,
  outputDir: "./bench-results",
  timeout: 20 * 60_000,
  fullyParallel: false,
  workers: 1,
  projects: [{ name: "chromium", use: { ...base.use, viewport: { width: 1366, height: 900 } } }],
});
