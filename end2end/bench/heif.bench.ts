// The HEIC module's own decode (`decodeHeif`, whole picture, one worker's
// work), in headless Chromium, per build of the module: as shipped
// (opt-level 3, WASM SIMD) and the variants `scripts/bench.sh heif` builds
// into BENCH_HEIF_VARIANTS (opt-level "z" as the other WASM builds, and
// opt-level 3 without SIMD). Each variant runs in a fresh page, so its first
// decode is a first decode (the WASM still compiling to its fast tier).
// Results are printed and written to bench-results/heif.json.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "@playwright/test";
import { heic } from "../tests/support/jpeg";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const VARIANTS = process.env.BENCH_HEIF_VARIANTS;

test("HEIC module: decode time per build", async ({ browser, baseURL }) => {
  const variants: Record<string, string> = { shipped: "/pipeline" };
  for (const name of VARIANTS ? readdirSync(VARIANTS) : []) variants[name] = `/__bench/v/${name}`;
  const results: Record<string, unknown>[] = [];
  for (const [variant, base] of Object.entries(variants)) {
    for (const photo of ["pug.heic", "arrow.heic"]) {
      const context = await browser.newContext({ baseURL });
      const page = await context.newPage();
      await page.route("**/__bench/**", (route) => {
        const path = new URL(route.request().url()).pathname;
        if (path === "/__bench/") return route.fulfill({ contentType: "text/html", body: "<!doctype html><title>bench</title>" });
        if (path === `/__bench/${photo}`) return route.fulfill({ body: heic(photo) });
        const [, , , name, file] = path.split("/");
        const type = file.endsWith(".wasm") ? "application/wasm" : "text/javascript";
        return route.fulfill({ contentType: type, body: readFileSync(join(VARIANTS!, name, file)) });
      });
      await page.goto("/__bench/");
      const row = await page.evaluate(
        async ({ base, photo, runs }) => {
          const module = await import(/* @vite-ignore */ `${base}/heif.js`);
          await module.default({ module_or_path: `${base}/heif_bg.wasm` });
          const bytes = new Uint8Array(await (await fetch(`/__bench/${photo}`)).arrayBuffer());
          const times: number[] = [];
          for (let i = 0; i < runs; i++) {
            const t0 = performance.now();
            module.decodeHeif(bytes);
            times.push(performance.now() - t0);
          }
          const warm = times.slice(1).sort((a, b) => a - b);
          const wasm = (await (await fetch(`${base}/heif_bg.wasm`)).arrayBuffer()).byteLength;
          return { first: Math.round(times[0]), warm: Math.round(warm[Math.floor(warm.length / 2)]), wasm };
        },
        { base, photo, runs: RUNS },
      );
      results.push({ variant, photo, ...row });
      console.log(`${variant} ${photo}: first ${row.first} ms, then ${row.warm} ms (median), ${row.wasm} B`);
      await context.close();
    }
  }
  writeFileSync("bench-results/heif.json", JSON.stringify(results, null, 2));
});
