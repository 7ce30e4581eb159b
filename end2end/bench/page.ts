// A bench page on the app's origin (so the app's WASM and pipeline worker
// load as they do in production), fulfilled by Playwright without the app's
// CSP so that browser-image-compression may start its blob: worker. Both
// third-party libraries are served from node_modules, never from a CDN.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "@playwright/test";

const LIBS: Record<string, string> = {
  "browser-image-compression.js": "node_modules/browser-image-compression/dist/browser-image-compression.js",
  "heic2any.js": "node_modules/heic2any/dist/heic2any.min.js",
};

export async function benchPage(page: Page, files: Record<string, Buffer>): Promise<void> {
  await page.route("**/__bench/**", (route) => {
    const path = new URL(route.request().url()).pathname;
    const name = decodeURIComponent(path.split("/").pop() ?? "");
    if (path === "/__bench/") {
      return route.fulfill({
        contentType: "text/html",
        body: `<!doctype html><meta charset="utf-8"><title>bench</title>
          <script src="/__bench/lib/browser-image-compression.js"></script>
          <script src="/__bench/lib/heic2any.js"></script>
          <script type="module">
            // The bundle's content-hashed names, as the app's own page gives them.
            const html = await (await fetch("/")).text();
            const [js] = html.match(/\\/pkg\\/clinical-images\\.[\\w-]+\\.js/);
            const [wasm] = html.match(/\\/pkg\\/clinical-images\\.[\\w-]+\\.wasm/);
            const mod = await import(js);
            await mod.default({ module_or_path: wasm });
            window.pipeline = mod;
            document.title = "ready";
          </script>`,
      });
    }
    if (path.startsWith("/__bench/lib/") && LIBS[name]) {
      return route.fulfill({ contentType: "text/javascript", body: readFileSync(join(__dirname, "..", LIBS[name])) });
    }
    const body = files[name];
    return body ? route.fulfill({ body, contentType: "application/octet-stream" }) : route.fulfill({ status: 404 });
  });
  await page.goto("/__bench/");
  await page.waitForFunction(() => document.title === "ready");
}

/**
 * A bench page with no app behind it, for a WASM tool built apart
 * (`jpeg-scale/`, `mozjpeg/`): `/__bench/pkg/<file>` from `pkg`,
 * `/__bench/f/<name>` from `files`, and the in-page helpers below.
 */
export async function wasmToolPage(page: Page, pkg: string, files: Record<string, () => Buffer>): Promise<void> {
  await page.route("**/__bench/**", (route) => {
    const path = new URL(route.request().url()).pathname;
    const name = path.split("/").pop() ?? "";
    if (path === "/__bench/") return route.fulfill({ contentType: "text/html", body: "<!doctype html><title>bench</title>" });
    if (path.startsWith("/__bench/pkg/")) {
      const type = name.endsWith(".wasm") ? "application/wasm" : "text/javascript";
      return route.fulfill({ contentType: type, body: readFileSync(join(pkg, name)) });
    }
    const file = path.startsWith("/__bench/f/") ? files[name] : undefined;
    return file ? route.fulfill({ body: file() }) : route.fulfill({ status: 404 });
  });
  await page.goto("/__bench/");
  await page.addScriptTag({ content: helpers });
}

/** In-page helpers: SSIM on luma (8×8 windows, standard constants) and loading. */
export const helpers = `
window.lumaOf = async (blobOrBitmap, w, h) => {
  const bitmap = blobOrBitmap instanceof ImageBitmap ? blobOrBitmap
    : await createImageBitmap(blobOrBitmap);
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 0, 0, w, h);
  const d = ctx.getImageData(0, 0, w, h).data;
  const y = new Float64Array(w * h);
  for (let i = 0; i < w * h; i++) y[i] = 0.299 * d[4 * i] + 0.587 * d[4 * i + 1] + 0.114 * d[4 * i + 2];
  return y;
};
window.ssim = (a, b, w, h) => {
  const C1 = (0.01 * 255) ** 2, C2 = (0.03 * 255) ** 2, N = 8;
  let total = 0, count = 0;
  for (let by = 0; by + N <= h; by += N) for (let bx = 0; bx + N <= w; bx += N) {
    let ma = 0, mb = 0;
    for (let y = by; y < by + N; y++) for (let x = bx; x < bx + N; x++) { ma += a[y * w + x]; mb += b[y * w + x]; }
    ma /= N * N; mb /= N * N;
    let va = 0, vb = 0, cov = 0;
    for (let y = by; y < by + N; y++) for (let x = bx; x < bx + N; x++) {
      const da = a[y * w + x] - ma, db = b[y * w + x] - mb;
      va += da * da; vb += db * db; cov += da * db;
    }
    va /= N * N - 1; vb /= N * N - 1; cov /= N * N - 1;
    total += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
    count++;
  }
  return total / count;
};
window.median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
window.timed = async (runs, run) => {
  const times = [];
  let out;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    out = await run();
    times.push(performance.now() - t0);
  }
  return { ms: window.median(times), out };
};
window.fixture = async (name, type) => new File([await (await fetch("/__bench/f/" + name)).blob()], name, { type });
`;
