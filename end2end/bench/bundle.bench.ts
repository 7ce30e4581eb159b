// What each route downloads: every script and WASM file the page fetches
// while it opens and hydrates (release build, --split, --precompress),
// read from the browser's own resource timing: bytes on the wire
// (`transferSize`: the encoded body and headers), the encoded body, and the
// decoded size. A second visit in the same browser shows what the cache
// keeps: hashed files are `immutable`, so nothing should be fetched again.
// The phone route's budget (≤ 400 KB on the wire) is checked here.
import { writeFileSync } from "node:fs";
import { expect, test, type Page } from "@playwright/test";

const ROUTES: Record<string, string> = {
  landing: "/",
  phone: "/medtech-images/mobile?t=bundle-measurement-not-a-token",
  desktop: "/medtech-images?patientId=0123456789abcdef0123456789abcdef&facilityId=F2N060-E",
};

type File = { transferred: number; encoded: number; decoded: number };

async function scripts(page: Page): Promise<Record<string, File>> {
  return page.evaluate(() => {
    const out: Record<string, { transferred: number; encoded: number; decoded: number }> = {};
    for (const e of performance.getEntriesByType("resource") as PerformanceResourceTiming[]) {
      const path = new URL(e.name).pathname;
      if (!/\.(wasm|js)$/.test(path)) continue;
      out[path] = { transferred: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize };
    }
    return out;
  });
}

const sum = (files: Record<string, File>, k: keyof File) => Object.values(files).reduce((s, f) => s + f[k], 0);

test("bytes each route transfers, first visit and repeat", async ({ browser }) => {
  const results: Record<string, unknown> = {};
  for (const [name, path] of Object.entries(ROUTES)) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const open = async () => {
      await page.goto(path);
      await page.waitForSelector("html[data-hydrated=true]");
      await page.waitForLoadState("networkidle");
      return scripts(page);
    };
    const first = await open();
    const again = await open();
    const totals = {
      transferred: sum(first, "transferred"),
      encoded: sum(first, "encoded"),
      decoded: sum(first, "decoded"),
      repeatTransferred: sum(again, "transferred"),
    };
    results[name] = { totals, files: first };
    console.log(
      `${name}: ${(totals.transferred / 1024).toFixed(1)} KiB transferred (${(totals.decoded / 1024).toFixed(1)} KiB decoded); ` +
        `repeat visit ${(totals.repeatTransferred / 1024).toFixed(1)} KiB`,
      JSON.stringify(first),
    );
    if (name === "phone") expect(totals.transferred, "the phone route's budget").toBeLessThanOrEqual(400_000);
    await context.close();
  }
  writeFileSync("bench-results/bundle.json", JSON.stringify(results, null, 2));
});
