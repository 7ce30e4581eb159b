// Issue 4's benchmarks, in one headless Chromium run against a release build:
//  1. compression: this pipeline vs browser-image-compression 2.0.2 on real
//     8–20 MP photos, same targets (≤ 1 MB, long edge 2560): time, bytes, SSIM;
//  2. HEIC: a real phone HEIC to the target JPEG, vs heic2any 0.0.4.
// Results are printed and written to bench-results/pipeline.json.
import { writeFileSync } from "node:fs";
import { test, type Page } from "@playwright/test";
import { benchPage, helpers } from "./page";
import { heic, photo } from "../tests/support/jpeg";

const PHOTOS = [
  "Bridge_by_Sander_Klootwijk.jpg",
  "Dragonfly_by_Bolly.jpg",
  "Kleiber_by_Lukas_Baubkus.jpg",
  "seeding_by_Clements_Engelhardt.jpg",
  "sunset_by_Aitzol_Berasategi.jpg",
  "picosdeeuropa_by_Aitzol_Berasategi.jpg",
  "umang_by_Abhishek_Mudgal.jpg",
];
const HEICS = ["pug.heic", "arrow.heic"];
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

type Row = { name: string; ms: number; bytes: number; width: number; height: number; ssim: number };

/** The HEIC module's WASM memory in each pipeline worker that loaded it, in MB (it only grows). */
async function heifMemory(page: Page): Promise<number[]> {
  const sizes = await Promise.all(
    page.workers().map((worker) =>
      worker.evaluate(async () => {
        if (self.location.pathname !== "/pipeline-worker.js") return null;
        // The worker's own instance of the module (same URL, same module),
        // initialised already if the worker decoded anything.
        const module = await import("/pipeline/heif.js");
        const exports = await module.default({ module_or_path: "/pipeline/heif_bg.wasm" });
        return exports.memory.buffer.byteLength / 2 ** 20;
      }),
    ),
  );
  return sizes.filter((s): s is number => s !== null).map((s) => Math.round(s * 10) / 10);
}

/** Our pipeline on each HEIC, `runs` times: the median time and how many workers decoded it. */
async function ourHeics(page: Page, runs: number) {
  return page.evaluate(
    async ({ heics, runs }) => {
      const w = window as any;
      const out: Record<string, { ms: number; workers: number }> = {};
      for (const name of heics) {
        const file = await w.fixture(name, "image/heic");
        let workers = 0;
        const { ms } = await w.timed(runs, async () => {
          const { blob, summary } = await w.pipeline.processImage(file, null, null);
          workers = summary.decodeWorkers;
          return blob;
        });
        out[name] = { ms, workers };
      }
      return out;
    },
    { heics: HEICS, runs },
  );
}

test("pipeline vs browser-image-compression, and HEIC vs heic2any", async ({ page, browser }) => {
  const files: Record<string, Buffer> = {};
  for (const p of PHOTOS) files[p] = photo(p);
  for (const h of HEICS) files[h] = heic(h);
  await benchPage(page, files);
  await page.addScriptTag({ content: helpers });

  const results: { compression: { photo: string; ours: Row; theirs: Row }[]; heic: unknown[] } = {
    compression: [],
    heic: [],
  };
  for (const name of PHOTOS) {
    const row = await page.evaluate(
      async ({ name, runs }) => {
        const w = window as any;
        const file = await w.fixture(name, "image/jpeg");
        const measure = async (label: string, run: () => Promise<Blob>) => {
          const { ms, out } = await w.timed(runs, run);
          const bitmap = await createImageBitmap(out);
          const [ow, oh] = [bitmap.width, bitmap.height];
          // The reference: the source downscaled to the output's size at high quality.
          const ref = await createImageBitmap(file, { resizeWidth: ow, resizeHeight: oh, resizeQuality: "high" });
          const ssim = w.ssim(await w.lumaOf(bitmap, ow, oh), await w.lumaOf(ref, ow, oh), ow, oh);
          return { name: label, ms, bytes: out.size, width: ow, height: oh, ssim };
        };
        const ours = await measure("pipeline", async () => (await w.pipeline.processImage(file, null, null)).blob);
        const theirs = await measure("browser-image-compression", () =>
          w.imageCompression(file, {
            maxSizeMB: 1,
            maxWidthOrHeight: 2560,
            useWebWorker: true,
            libURL: location.origin + "/__bench/lib/browser-image-compression.js",
          }),
        );
        return { photo: name, ours, theirs };
      },
      { name, runs: RUNS },
    );
    results.compression.push(row);
    console.log(
      `${row.photo}: pipeline ${row.ours.ms.toFixed(0)} ms ${row.ours.bytes} B ssim ${row.ours.ssim.toFixed(4)} | ` +
        `bic ${row.theirs.ms.toFixed(0)} ms ${row.theirs.bytes} B ssim ${row.theirs.ssim.toFixed(4)}`,
    );
  }

  for (const name of HEICS) {
    const row = await page.evaluate(
      async ({ name, runs }) => {
        const w = window as any;
        const file = await w.fixture(name, "image/heic");
        const time = async (run: () => Promise<Blob>) => {
          const { ms, out } = await w.timed(runs, run);
          const bitmap = await createImageBitmap(out);
          return { ms, bytes: out.size, width: bitmap.width, height: bitmap.height };
        };
        let workers = 0;
        const ours = await time(async () => {
          const { blob, summary } = await w.pipeline.processImage(file, null, null);
          workers = summary.decodeWorkers;
          return blob;
        });
        const heic2any = await time(
          async () => (await w.heic2any({ blob: file, toType: "image/jpeg", quality: 0.92 })) as Blob,
        );
        return { file: name, ours: { ...ours, workers }, heic2any, ratio: ours.ms / heic2any.ms };
      },
      { name, runs: RUNS },
    );
    results.heic.push(row);
    console.log("HEIC:", JSON.stringify(row));
  }
  // The pool's HEIC memory after those runs, then the same HEICs with one
  // worker (hardwareConcurrency 1), which decodes each whole: the tile
  // sharing's gain, and its memory against a whole decode's.
  const pooled = { memoryMB: await heifMemory(page) };
  const context = await browser.newContext();
  const single = await context.newPage();
  const cdp = await context.newCDPSession(single);
  await cdp.send("Emulation.setHardwareConcurrencyOverride", { hardwareConcurrency: 1 });
  await benchPage(single, files);
  await single.addScriptTag({ content: helpers });
  const oneWorker = { heics: await ourHeics(single, RUNS), memoryMB: await heifMemory(single) };
  await context.close();
  Object.assign(results, { pooled, oneWorker });
  console.log("HEIC pool memory (MB per worker):", JSON.stringify(pooled), "one worker:", JSON.stringify(oneWorker));
  writeFileSync("bench-results/pipeline.json", JSON.stringify(results, null, 2));
});
