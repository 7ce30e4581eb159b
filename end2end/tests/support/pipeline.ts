// Drives the image pipeline inside a page, as the capture screens do: the
// app's own WASM module (already loaded by hydration) hands the file to the
// pipeline's Web Worker. Fixtures are served to the page by route, from disk.
import type { Page } from "@playwright/test";
import { waitForHydration } from "./hydration";

export type Summary = {
  contentType: string;
  bytes: number;
  width: number;
  height: number;
  quality: number | null;
  captured: string | null;
  source: string;
  elapsedMs: number;
  encodes: number;
  passedThrough: boolean;
  decoder: "browser" | "wasm";
};

export type Run =
  | { ok: true; summary: Summary; output: Buffer; progress: number[]; upright?: { asShown: number; turned: number } }
  | { ok: false; error: { kind: string; message: string }; progress: number[] };

/** Opens a hydrated page and serves `files` at /__fixture/NAME. */
export async function pipelinePage(page: Page, files: Record<string, Buffer>): Promise<void> {
  await page.route("**/__fixture/*", (route) => {
    const name = decodeURIComponent(new URL(route.request().url()).pathname.split("/").pop() ?? "");
    const body = files[name];
    return body ? route.fulfill({ body, contentType: "application/octet-stream" }) : route.fulfill({ status: 404 });
  });
  await page.goto("/");
  await waitForHydration(page);
}

/**
 * Runs fixture `name` through the pipeline. With `compareUpright`, also
 * compares the output with the browser's own EXIF-oriented rendering of the
 * source (`asShown`, mean absolute luma difference 0–255) and with that
 * rendering turned 180° (`turned`), both at a small common size.
 */
export async function runPipeline(page: Page, name: string, type: string, compareUpright = false): Promise<Run> {
  const run = await page.evaluate(
    async ({ name, type, compareUpright }) => {
      // The bundle under its content-hashed name, as the page preloads it.
      const bundle = document.querySelector('link[rel="modulepreload"][href^="/pkg/clinical-images."]')!.getAttribute("href")!;
      const mod = await import(/* @vite-ignore */ bundle);
      const source = await (await fetch(`/__fixture/${name}`)).blob();
      const file = new File([source], name, { type });
      const progress: number[] = [];
      let result: { blob: Blob; summary: unknown };
      try {
        result = await mod.processImage(file, null, (f: number) => progress.push(f));
      } catch (error) {
        return { ok: false as const, error, progress };
      }
      const luma = async (bitmap: ImageBitmap, w: number, h: number, turn: boolean) => {
        const canvas = new OffscreenCanvas(w, h);
        const ctx = canvas.getContext("2d")!;
        ctx.imageSmoothingQuality = "high";
        if (turn) ctx.setTransform(-1, 0, 0, -1, w, h);
        ctx.drawImage(bitmap, 0, 0, w, h);
        const d = ctx.getImageData(0, 0, w, h).data;
        const y = new Float64Array(w * h);
        for (let i = 0; i < w * h; i++) y[i] = 0.299 * d[i * 4] + 0.587 * d[i * 4 + 1] + 0.114 * d[i * 4 + 2];
        return y;
      };
      let upright: { asShown: number; turned: number } | undefined;
      if (compareUpright) {
        const out = await createImageBitmap(result.blob);
        const shown = await createImageBitmap(source); // the browser applies EXIF orientation itself
        const w = 96;
        const h = Math.round((96 * out.height) / out.width);
        const a = await luma(out, w, h, false);
        const diff = (b: Float64Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;
        upright = { asShown: diff(await luma(shown, w, h, false)), turned: diff(await luma(shown, w, h, true)) };
      }
      const base64 = await new Promise<string>((resolve) => {
        const reader = new FileReader();
        reader.onload = () => resolve(String(reader.result).split(",")[1] ?? "");
        reader.readAsDataURL(result.blob);
      });
      return { ok: true as const, summary: result.summary, base64, progress, upright };
    },
    { name, type, compareUpright },
  );
  if (!run.ok) return run as Run;
  const { base64, ...rest } = run;
  return { ...rest, output: Buffer.from(base64, "base64") } as Run;
}
