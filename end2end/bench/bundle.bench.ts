// What each route downloads: every script and WASM file the browser fetches
// when the page opens and hydrates (release build with --split), sized
// uncompressed and at gzip -9 from the files the server sent.
import { writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { test } from "@playwright/test";

const ROUTES: Record<string, string> = {
  landing: "/",
  phone: "/medtech-images/mobile?t=bundle-measurement-not-a-token",
  desktop: "/medtech-images?patientId=0123456789abcdef0123456789abcdef&facilityId=F2N060-E",
};

test("bundle size per route", async ({ browser }) => {
  const results: Record<string, { files: Record<string, { bytes: number; gzip: number }>; gzip: number }> = {};
  for (const [name, path] of Object.entries(ROUTES)) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const files: Record<string, { bytes: number; gzip: number }> = {};
    page.on("response", async (r) => {
      const url = new URL(r.url());
      if (!/\.(wasm|js)$/.test(url.pathname) || r.status() !== 200) return;
      const body = await r.body().catch(() => null);
      if (body) files[url.pathname] = { bytes: body.length, gzip: gzipSync(body, { level: 9 }).length };
    });
    await page.goto(path);
    await page.waitForSelector("html[data-hydrated=true]");
    await page.waitForLoadState("networkidle");
    const gzip = Object.values(files).reduce((s, f) => s + f.gzip, 0);
    results[name] = { files, gzip };
    console.log(`${name}: ${(gzip / 1024).toFixed(1)} KiB gzip`, JSON.stringify(files));
    await context.close();
  }
  writeFileSync("bench-results/bundle.json", JSON.stringify(results, null, 2));
});
