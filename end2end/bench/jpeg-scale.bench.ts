// Issue 14, part 3: does a DCT-domain scaled JPEG decode in WASM (the IDCT
// at 1/2, 1/4 or 1/8, `jpeg-scale/`) beat the browser's own full decode plus
// resize (`createImageBitmap` with resizeWidth/resizeHeight, what the
// pipeline does) when the long edge is at least twice the 2560 px target?
// On a 20 MP fixture (Kleiber, 6028×3391) and on a 50 MP JPEG generated from
// it in the page (drawn at 50 MP, encoded at quality 0.92). The WASM path is
// timed from the bytes to a bitmap of the target size (the scaled decode,
// then the browser's resize of the rest); SSIM of both against the browser's
// high-quality resize of the full decode. `scripts/bench.sh jpeg-scale`
// builds the WASM into BENCH_JPEG_SCALE_PKG and runs this. Results in
// bench-results/jpeg-scale.json.
import { writeFileSync } from "node:fs";
import { test } from "@playwright/test";
import { wasmToolPage } from "./page";
import { photo } from "../tests/support/jpeg";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const PKG = process.env.BENCH_JPEG_SCALE_PKG ?? "";
const SOURCE = "Kleiber_by_Lukas_Baubkus.jpg";

test("DCT-scaled JPEG decode in WASM vs the browser's decode and resize", async ({ page }) => {
  await wasmToolPage(page, PKG, { [SOURCE]: () => photo(SOURCE) });
  const results = [];
  for (const megapixels of [0, 50]) {
    const row = await page.evaluate(
      async ({ source, megapixels, runs }) => {
        const w = window as any;
        const module = await import(/* @vite-ignore */ "/__bench/pkg/jpeg_scale_bench.js");
        await module.default({ module_or_path: "/__bench/pkg/jpeg_scale_bench_bg.wasm" });
        let blob: Blob = await (await fetch(`/__bench/f/${source}`)).blob();
        if (megapixels) {
          const full = await createImageBitmap(blob);
          const s = Math.sqrt((megapixels * 1e6) / (full.width * full.height));
          const canvas = new OffscreenCanvas(Math.round(full.width * s), Math.round(full.height * s));
          canvas.getContext("2d")!.drawImage(full, 0, 0, canvas.width, canvas.height);
          blob = await canvas.convertToBlob({ type: "image/jpeg", quality: 0.92 });
        }
        const probe = await createImageBitmap(blob);
        const [width, height] = [probe.width, probe.height];
        probe.close();
        const edge = 2560;
        const [tw, th] = width >= height ? [edge, Math.round((edge * height) / width)] : [Math.round((edge * width) / height), edge];
        const bytes = new Uint8Array(await blob.arrayBuffer());
        const resize = { resizeWidth: tw, resizeHeight: th, resizeQuality: "medium" as ResizeQuality };
        let scaled = "";
        const paths: Record<string, () => Promise<ImageBitmap>> = {
          browser: () => createImageBitmap(blob, resize),
          dct: () => {
            const [sw, sh, rgba] = module.decodeScaled(bytes, edge);
            scaled = `${sw}×${sh}`;
            return createImageBitmap(new ImageData(rgba, sw, sh), resize);
          },
        };
        const times: Record<string, number[]> = { browser: [], dct: [] };
        const last: Record<string, ImageBitmap> = {};
        // Alternated, so neither path always runs on a warmer machine.
        for (let i = 0; i < runs; i++) {
          for (const [name, run] of Object.entries(paths)) {
            const t0 = performance.now();
            last[name] = await run();
            times[name].push(performance.now() - t0);
          }
        }
        const reference = await w.lumaOf(
          await createImageBitmap(blob, { resizeWidth: tw, resizeHeight: th, resizeQuality: "high" }), tw, th);
        const score = async (b: ImageBitmap) => Number(w.ssim(await w.lumaOf(b, tw, th), reference, tw, th).toFixed(4));
        return {
          source: `${width}×${height}`,
          bytes: blob.size,
          target: `${tw}×${th}`,
          scaledDecode: scaled,
          browser: { ms: Math.round(w.median(times.browser)), ssim: await score(last.browser) },
          dct: { ms: Math.round(w.median(times.dct)), ssim: await score(last.dct) },
        };
      },
      { source: SOURCE, megapixels, runs: RUNS },
    );
    results.push(row);
    console.log(JSON.stringify(row));
  }
  writeFileSync("bench-results/jpeg-scale.json", JSON.stringify(results, null, 2));
});
