import { expect, test, type Browser } from "@playwright/test";
import { heic, metadataSegments, photo, segments, withExif } from "./support/jpeg";
import { pipelinePage, runPipeline } from "./support/pipeline";

// Real photos are large; each test still finishes in seconds.
test.describe.configure({ timeout: 90_000 });

const TARGET_BYTES = 1_000_000;
const MAX_EDGE = 2560;

/** A pipeline page in a context of its own, whose browser reports `cores` cores: the pool is sized from them. */
async function pageWithCores(browser: Browser, baseURL: string | undefined, cores: number, files: Record<string, Buffer>) {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Emulation.setHardwareConcurrencyOverride", { hardwareConcurrency: cores });
  await pipelinePage(page, files);
  return { context, page };
}

function frameSize(jpeg: Buffer): [number, number] {
  const sof = segments(jpeg).find((s) => s.marker >= 0xc0 && s.marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(s.marker));
  if (!sof) throw new Error("no frame header");
  return [sof.body.readUInt16BE(3), sof.body.readUInt16BE(1)];
}

test("the browser picks the lowest JPEG quality whose SSIM reaches the floor, scored on a sample", async ({ page }) => {
  // seeding: 5312×2988 (15.9 MP). A floor of 0.985 lies well inside the
  // quality range for it (about 0.86), so neither bound decides.
  const floor = 0.985;
  await pipelinePage(page, { "seeding.jpg": photo("seeding_by_Clements_Engelhardt.jpg") });
  const r = await page.evaluate(async (floor) => {
    const bundle = document.querySelector('link[rel="modulepreload"][href^="/pkg/clinical-images."]')!.getAttribute("href")!;
    const mod = await import(/* @vite-ignore */ bundle);
    const source = await (await fetch("/__fixture/seeding.jpg")).blob();
    const { blob, summary } = await mod.processImage(new File([source], "seeding.jpg", { type: "image/jpeg" }), { ssimFloor: floor }, null);
    // The pixels the pipeline encoded: the source resized as it resizes it.
    const [w, h] = [summary.width, summary.height];
    const resized = await createImageBitmap(source, { resizeWidth: w, resizeHeight: h, resizeQuality: "medium" });
    const canvas = new OffscreenCanvas(w, h);
    canvas.getContext("2d")!.drawImage(resized, 0, 0);
    const luma = async (b: Blob | ImageBitmap) => {
      const bitmap = b instanceof Blob ? await createImageBitmap(b) : b;
      const c = new OffscreenCanvas(w, h).getContext("2d")!;
      c.drawImage(bitmap, 0, 0);
      const d = c.getImageData(0, 0, w, h).data;
      const y = new Float64Array(w * h);
      for (let i = 0; i < w * h; i++) y[i] = 0.299 * d[4 * i] + 0.587 * d[4 * i + 1] + 0.114 * d[4 * i + 2];
      return y;
    };
    // SSIM on 8×8 windows, written out here rather than taken from the app.
    const ssim = (a: Float64Array, b: Float64Array) => {
      const [c1, c2] = [(0.01 * 255) ** 2, (0.03 * 255) ** 2];
      let [total, count] = [0, 0];
      for (let by = 0; by + 8 <= h; by += 8) {
        for (let bx = 0; bx + 8 <= w; bx += 8) {
          let [ma, mb] = [0, 0];
          for (let y = by; y < by + 8; y++) for (let x = bx; x < bx + 8; x++) { ma += a[y * w + x]; mb += b[y * w + x]; }
          [ma, mb] = [ma / 64, mb / 64];
          let [va, vb, cov] = [0, 0, 0];
          for (let y = by; y < by + 8; y++) for (let x = bx; x < bx + 8; x++) {
            const [da, db] = [a[y * w + x] - ma, b[y * w + x] - mb];
            va += da * da; vb += db * db; cov += da * db;
          }
          [va, vb, cov] = [va / 63, vb / 63, cov / 63];
          total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
          count++;
        }
      }
      return total / count;
    };
    const reference = await luma(resized);
    const below = await canvas.convertToBlob({ type: "image/jpeg", quality: summary.quality - 0.01 });
    return { summary, bytes: blob.size, whole: ssim(reference, await luma(blob)), below: ssim(reference, await luma(below)) };
  }, floor);
  console.log(`seeding at SSIM floor ${floor}: q=${r.summary.quality}, ${r.bytes} B, whole-photo SSIM ${r.whole.toFixed(4)}, ` +
    `${r.summary.sampleEncodes} sample encodes (sample ${r.summary.sampleSsim?.toFixed(4)}), ${r.summary.encodes} full encode(s)`);
  expect(r.summary.quality).toBeGreaterThan(0.6);
  expect(r.summary.quality).toBeLessThan(0.95);
  // The whole photo reaches the floor; one percent lower it would not.
  expect(r.whole).toBeGreaterThanOrEqual(floor);
  expect(r.below).toBeLessThan(floor + 0.002);
  // The search scored a sample, then encoded the photo once.
  expect(r.summary.sampleEncodes).toBeGreaterThanOrEqual(2);
  expect(r.summary.sampleSsim).toBeGreaterThanOrEqual(floor);
  expect(r.summary.encodes).toBe(1);
});

test("a real 12 MP photo with EXIF orientation 6 comes out upright, under target and metadata-free", async ({ page }) => {
  // sunset: 4272×2848 from Debian's lomiri-wallpapers, given orientation 6, GPS and a capture time.
  const source = withExif(photo("sunset_by_Aitzol_Berasategi.jpg"), 6);
  expect(metadataSegments(source).length).toBeGreaterThan(0);
  await pipelinePage(page, { "sunset.jpg": source });
  const run = await runPipeline(page, "sunset.jpg", "image/jpeg", true);
  if (!run.ok) throw new Error(`pipeline failed: ${JSON.stringify(run.error)}`);

  const { summary, output } = run;
  // Orientation 6 turns the stored landscape into a portrait.
  expect(summary.height).toBe(MAX_EDGE);
  expect(summary.width).toBe(Math.floor((2848 * MAX_EDGE) / 4272));
  expect(frameSize(output)).toEqual([summary.width, summary.height]);
  // Upright: it matches the browser's own oriented rendering, not its 180° turn.
  expect(run.upright!.asShown).toBeLessThan(6);
  expect(run.upright!.turned).toBeGreaterThan(4 * run.upright!.asShown);

  expect(output.length).toBeLessThanOrEqual(TARGET_BYTES);
  expect(summary.bytes).toBe(output.length);
  expect(summary.quality).toBeGreaterThanOrEqual(0.6);
  expect(metadataSegments(output)).toEqual([]);
  expect(output.includes(Buffer.from("TestCam"))).toBe(false);
  expect(output.includes(Buffer.from("Exif\0\0"))).toBe(false);
  // The capture time is kept for the app's own record, outside the file.
  expect(summary.captured).toBe("2026:11:20 09:15:00");
  expect(summary.source).toBe("jpeg");
  expect(summary.decoder).toBe("browser");

  // The work ran in the worker and reported progress while it did.
  const during = run.progress.filter((f) => f > 0 && f < 1);
  expect(during.length).toBeGreaterThanOrEqual(3);
  expect([...run.progress].sort((a, b) => a - b)).toEqual(run.progress);
  expect(run.progress[run.progress.length - 1]).toBe(1);
  console.log(`12 MP JPEG: ${summary.elapsedMs.toFixed(0)} ms, ${output.length} B, q=${summary.quality}, ` +
    `upright diff ${run.upright!.asShown.toFixed(2)} vs turned ${run.upright!.turned.toFixed(2)}`);
});

test("real iPhone HEICs convert in Chromium: upright, under target, metadata-free", async ({ page }) => {
  // pug: iPhone 13 Pro, 4032×3024 in 512 px grid tiles. arrow: iPhone 8 Plus, stored
  // landscape with a 270° HEIF rotation, so upright it is a portrait.
  await pipelinePage(page, { "pug.heic": heic("pug.heic"), "arrow.heic": heic("arrow.heic") });
  for (const [name, size] of [
    ["pug.heic", [2560, 1920]],
    ["arrow.heic", [1920, 2560]],
  ] as const) {
    const run = await runPipeline(page, name, "image/heic");
    if (!run.ok) throw new Error(`${name}: ${JSON.stringify(run.error)}`);
    expect([run.summary.width, run.summary.height]).toEqual(size);
    expect(frameSize(run.output)).toEqual(size);
    expect(run.summary.source).toBe("heif");
    // Chromium has no HEIC codec: the WASM module decoded it.
    expect(run.summary.decoder).toBe("wasm");
    expect(run.summary.contentType).toBe("image/jpeg");
    expect(run.output.length).toBeLessThanOrEqual(TARGET_BYTES);
    expect(metadataSegments(run.output)).toEqual([]);
    expect(run.progress.filter((f) => f > 0 && f < 1).length).toBeGreaterThanOrEqual(2);
    console.log(`${name}: ${run.summary.elapsedMs.toFixed(0)} ms, ${run.output.length} B, q=${run.summary.quality}`);
  }
});

test("non-images and damaged files fail with a specific message, and the worker carries on", async ({ page }) => {
  const real = photo("Bridge_by_Sander_Klootwijk.jpg");
  await pipelinePage(page, {
    "scan.jpg": Buffer.from("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"),
    "truncated.jpg": real.subarray(0, Math.floor(real.length / 2)),
    "corrupted.heic": heic("corrupted.heic"),
    "bridge.jpg": real,
  });
  const pdf = await runPipeline(page, "scan.jpg", "image/jpeg");
  expect(pdf.ok).toBe(false);
  if (!pdf.ok) expect(pdf.error).toEqual({ kind: "pdf", message: "This is a PDF document, not a photo." });

  const truncated = await runPipeline(page, "truncated.jpg", "image/jpeg");
  expect(truncated.ok).toBe(false);
  if (!truncated.ok) expect(truncated.error.kind).toBe("truncated");

  const corrupt = await runPipeline(page, "corrupted.heic", "image/heic");
  expect(corrupt.ok).toBe(false);
  if (!corrupt.ok) {
    expect(corrupt.error.kind).toBe("heifUndecodable");
    expect(corrupt.error.message).toContain("HEIC");
  }

  // The same worker still processes a good photo afterwards.
  const good = await runPipeline(page, "bridge.jpg", "image/jpeg");
  expect(good.ok).toBe(true);
  if (good.ok) expect(good.output.length).toBeLessThanOrEqual(TARGET_BYTES);
});

test("a batch run across the worker pool gives the same files as the same batch in series, one HEIC at a time", async ({
  browser,
  baseURL,
}) => {
  test.setTimeout(180_000);
  // 3 real JPEGs (13–20 MP) and 2 iPhone HEICs: the batch benchmark's photos.
  const batch: [string, string, Buffer][] = [
    ["Dragonfly_by_Bolly.jpg", "image/jpeg", photo("Dragonfly_by_Bolly.jpg")],
    ["seeding_by_Clements_Engelhardt.jpg", "image/jpeg", photo("seeding_by_Clements_Engelhardt.jpg")],
    ["Kleiber_by_Lukas_Baubkus.jpg", "image/jpeg", photo("Kleiber_by_Lukas_Baubkus.jpg")],
    ["pug.heic", "image/heic", heic("pug.heic")],
    ["arrow.heic", "image/heic", heic("arrow.heic")],
  ];
  const files = Object.fromEntries(batch.map(([name, , bytes]) => [name, bytes]));

  // The pool is sized from navigator.hardwareConcurrency: 1 core gives one
  // worker (the batch runs in series), 8 give the largest pool.
  async function run(cores: number) {
    const { context, page } = await pageWithCores(browser, baseURL, cores, files);
    const out = await page.evaluate(async (batch) => {
      const bundle = document.querySelector('link[rel="modulepreload"][href^="/pkg/clinical-images."]')!.getAttribute("href")!;
      const mod = await import(/* @vite-ignore */ bundle);
      const picked = await Promise.all(
        batch.map(async ([name, type]) => new File([await (await fetch(`/__fixture/${name}`)).blob()], name, { type })),
      );
      // Every job's start (its first progress report, sent by the worker
      // that took it) and end, in the order the page saw them.
      const events: [string, number][] = [];
      const outputs = await Promise.all(
        picked.map(async (file, i) => {
          let started = false;
          const { blob } = await mod.processImage(file, null, () => {
            if (!started) events.push(["start", i]);
            started = true;
          });
          events.push(["end", i]);
          const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
          return { sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""), bytes: blob.size };
        }),
      );
      return { outputs, events, cores: navigator.hardwareConcurrency };
    }, batch.map(([name, type]) => [name, type]));
    await context.close();
    // The most jobs running at once, and whether the two HEICs ever overlapped.
    const running = new Set<number>();
    let most = 0;
    let heicsTogether = false;
    for (const [what, i] of out.events) {
      if (what === "start") running.add(i);
      else running.delete(i);
      most = Math.max(most, running.size);
      heicsTogether ||= running.has(3) && running.has(4);
    }
    return { ...out, most, heicsTogether };
  }

  const serial = await run(1);
  const parallel = await run(8);
  expect(serial.cores).toBe(1);
  expect(parallel.cores).toBe(8);
  expect(serial.events).toHaveLength(10);
  expect(parallel.events).toHaveLength(10);
  // It really ran in series, and really in parallel.
  expect(serial.most).toBe(1);
  expect(parallel.most).toBeGreaterThanOrEqual(2);
  // A HEIC decodes the whole picture: never two at once.
  expect(parallel.heicsTogether).toBe(false);
  // Byte for byte the same five files.
  expect(parallel.outputs).toEqual(serial.outputs);
  for (const o of serial.outputs) expect(o.bytes).toBeGreaterThan(50_000);
});

test("a tiled HEIC decoded across the pool gives the same file as one whole decode in one worker", async ({
  browser,
  baseURL,
}) => {
  test.setTimeout(180_000);
  const pug = heic("pug.heic");
  // Cut short: the header and the first tiles are there, the last tiles are
  // not, so some tiles fail wherever they are decoded.
  const files = { "pug.heic": pug, "arrow.heic": heic("arrow.heic"), "cut.heic": pug.subarray(0, pug.length * 0.6) };
  async function run(cores: number) {
    const { context, page } = await pageWithCores(browser, baseURL, cores, files);
    const out: Record<string, { sha256?: string; workers?: number; width?: number; failed?: string }> = {};
    for (const name of ["pug.heic", "cut.heic", "arrow.heic"]) {
      out[name] = await page.evaluate(async (name) => {
        const bundle = document.querySelector('link[rel="modulepreload"][href^="/pkg/clinical-images."]')!.getAttribute("href")!;
        const mod = await import(/* @vite-ignore */ bundle);
        const file = new File([await (await fetch(`/__fixture/${name}`)).blob()], name, { type: "image/heic" });
        try {
          const { blob, summary } = await mod.processImage(file, null);
          const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
          const sha256 = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
          return { sha256, workers: summary.decodeWorkers, width: summary.width };
        } catch (error) {
          return { failed: (error as { kind: string }).kind };
        }
      }, name);
    }
    await context.close();
    return out;
  }
  const whole = await run(1);
  const tiled = await run(8);
  // One worker decodes the whole picture; the pool of three shares its tiles.
  expect(whole["pug.heic"].workers).toBe(1);
  expect(tiled["pug.heic"].workers).toBeGreaterThanOrEqual(2);
  expect(tiled["arrow.heic"].workers).toBeGreaterThanOrEqual(2);
  // Byte for byte the same files, the rotated one included.
  expect(tiled["pug.heic"].sha256).toBe(whole["pug.heic"].sha256);
  expect(tiled["arrow.heic"].sha256).toBe(whole["arrow.heic"].sha256);
  expect(tiled["arrow.heic"].width).toBe(1920);
  // A HEIC whose tiles cannot all be decoded fails the same way, and the
  // pool goes on to the next photo (arrow, after it).
  expect(whole["cut.heic"].failed).toBe("heifUndecodable");
  expect(tiled["cut.heic"].failed).toBe("heifUndecodable");
});
