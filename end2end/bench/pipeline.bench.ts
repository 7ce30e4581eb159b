// Issue 4's benchmarks, in one headless Chromium run against a release build:
//  1. compression: this pipeline vs browser-image-compression 2.0.2 on real
//     8–20 MP photos, same targets (≤ 1 MB, long edge 2560): time, bytes, SSIM;
//  2. HEIC: a real phone HEIC to the target JPEG, vs heic2any 0.0.4.
// Results are printed and written to bench-results/pipeline.json.
import { writeFileSync } from "node:fs";
import { test } from "@playwright/test";
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

test("pipeline vs browser-image-compression, and HEIC vs heic2any", async ({ page }) => {
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
  writeFileSync("bench-results/pipeline.json", JSON.stringify(results, null, 2));
});
