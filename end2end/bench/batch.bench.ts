// The batch a GP waits for (issue 14): 5 real photos (3 JPEGs of 13–20 MP,
// 2 iPhone HEICs) from the phone to the desktop over an emulated 4G uplink
// (CDP: upload 8 Mbit/s, download 30 Mbit/s, 60 ms latency), timed from the
// tap on "Skip details and send" to the fifth `image-added` on a desktop's
// event stream. In the same run, the seed system's way as the baseline:
// heic2any first for a HEIC, then browser-image-compression (its defaults,
// maxSizeMB 1, maxWidthOrHeight 2560, its worker on), each photo presigned,
// PUT and registered one after the other, on the same throttled network,
// with the same server. Median of BENCH_RUNS (3) runs each; bytes stored;
// SSIM of every stored photo against its source. Results in
// bench-results/batch.json. `scripts/bench.sh batch` runs it.
//
// With a review (issue 31): the same phone picks the 5, then spends 10 s on
// review and details as a GP does (Continue, a side, a body site, a typed
// description), then taps "Skip details and send"; timed from that tap. Its
// bytes went while the GP reviewed. The baseline can only start at Send, so
// its figure is the same with or without a review.
//
// A HEIC's SSIM reference is BENCH_HEIC_REFERENCE/<name>.png, written by
// `examples/heic_reference.rs`: the HEIC decoded with its ICC profile applied
// by the decoder's own transform, the colours a colour-managed viewer shows.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { devices, test, type Browser, type BrowserContext, type Page } from "@playwright/test";
import { benchPage, helpers } from "./page";
import { heic, photo } from "../tests/support/jpeg";

const JPEGS = ["Dragonfly_by_Bolly.jpg", "seeding_by_Clements_Engelhardt.jpg", "Kleiber_by_Lukas_Baubkus.jpg"];
const HEICS = ["pug.heic", "arrow.heic"];
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const REFERENCE = process.env.BENCH_HEIC_REFERENCE ?? "";
const UPLINK = { offline: false, latency: 60, uploadThroughput: (8e6 / 8), downloadThroughput: (30e6 / 8) };

function fixtures(): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (const j of JPEGS) files[j] = photo(j);
  for (const h of HEICS) {
    files[h] = heic(h);
    files[`${h}.png`] = readFileSync(join(REFERENCE, `${h}.png`));
  }
  return files;
}

let patient = 0;

/** A desktop session whose bench page holds the event stream and times each `image-added`. */
async function desktop(browser: Browser, baseURL: string, files: Record<string, Buffer>) {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const id = `b${Date.now().toString(16)}${(patient++).toString(16)}`.padEnd(32, "0").slice(0, 32);
  await page.goto(`/medtech-images?patientId=${id}&facilityId=F2N060-E`);
  // Each desktop page names its session (one patient per window): in the
  // event stream's address and in a header on every other call.
  const session = new URL(page.url()).searchParams.get("session");
  if (!session) throw new Error(`the launch did not land on a session page: ${page.url()}`);
  await benchPage(page, files);
  await page.addScriptTag({ content: helpers });
  await page.evaluate(
    (session) =>
      new Promise<void>((resolve) => {
        const w = window as any;
        w.added = [];
        const events = new EventSource(`/api/medtech/session/events?session=${session}`);
        events.addEventListener("image-added", () => w.added.push(Date.now()));
        events.onopen = () => resolve();
      }),
    session,
  );
  const named = { "x-capture-session": session };
  const grant = await (await page.request.post("/api/medtech/session/mobile-token", { data: {}, headers: named })).json();
  const link = grant.mobileUrl as string;
  const added = async (n: number) => {
    await page.waitForFunction((n) => (window as any).added.length >= n, n, { timeout: 300_000 });
    return page.evaluate(() => (window as any).added as number[]);
  };
  return { context, page, session, link, token: new URL(link).searchParams.get("t")!, added };
}

async function throttle(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", UPLINK);
}

/** Every stored photo of the desktop's session, with its SSIM against the best-matching source. */
async function stored(page: Page, session: string) {
  return page.evaluate(
    async ({ jpegs, heics, session }) => {
      const w = window as any;
      const refs: { name: string; bitmap: ImageBitmap }[] = [];
      for (const name of jpegs) refs.push({ name, bitmap: await createImageBitmap(await w.fixture(name, "image/jpeg")) });
      // A HEIC's reference: decoded with its ICC profile applied (see REFERENCE).
      for (const name of heics) refs.push({ name, bitmap: await createImageBitmap(await w.fixture(`${name}.png`, "image/png")) });
      const images = await (await fetch("/api/medtech/session/images", { headers: { "x-capture-session": session } })).json();
      const out = [];
      for (const image of images) {
        const blob = await (await fetch(image.previewUrl)).blob();
        const bitmap = await createImageBitmap(blob);
        const [ow, oh] = [bitmap.width, bitmap.height];
        let best = { name: "", ssim: -1 };
        for (const ref of refs) {
          if (Math.abs(ref.bitmap.width / ref.bitmap.height - ow / oh) > 0.02) continue;
          const scaled = await createImageBitmap(ref.bitmap, { resizeWidth: ow, resizeHeight: oh, resizeQuality: "high" });
          const ssim = w.ssim(await w.lumaOf(bitmap, ow, oh), await w.lumaOf(scaled, ow, oh), ow, oh);
          if (ssim > best.ssim) best = { name: ref.name, ssim };
        }
        out.push({ photo: best.name, ssim: best.ssim, bytes: blob.size, width: ow, height: oh });
      }
      return out;
    },
    { jpegs: JPEGS, heics: HEICS, session },
  );
}

/** Waits for the fifth photo on the desktop, then scores what was stored and closes both sides. */
async function finish(who: string, desk: Awaited<ReturnType<typeof desktop>>, phone: BrowserContext, t0: number) {
  const times = await desk.added(5);
  const ms = times[4] - t0;
  console.log(`  ${who}: ${ms} ms; comparing with the sources`);
  const photos = await stored(desk.page, desk.session);
  await phone.close();
  await desk.context.close();
  return { ms, photos };
}

/** This app's phone (the real capture page, Pixel 7, on the 4G uplink), with the 5 picked. */
async function picked(browser: Browser, baseURL: string, files: Record<string, Buffer>) {
  const desk = await desktop(browser, baseURL, files);
  const context = await browser.newContext({ ...devices["Pixel 7"], baseURL });
  const phone = await context.newPage();
  await throttle(phone);
  await phone.goto(desk.link);
  await phone.waitForSelector("html[data-hydrated=true]");
  await phone.getByLabel("Choose from gallery").setInputFiles([
    ...JPEGS.map((name) => ({ name, mimeType: "image/jpeg", buffer: files[name] })),
    ...HEICS.map((name) => ({ name, mimeType: "image/heic", buffer: files[name] })),
  ]);
  return { desk, context, phone };
}

/** This app's phone, sending at once. */
async function ours(browser: Browser, baseURL: string, files: Record<string, Buffer>) {
  const { desk, context, phone } = await picked(browser, baseURL, files);
  await phone.getByRole("button", { name: "Continue" }).click();
  const t0 = Date.now();
  await phone.getByRole("button", { name: "Skip details and send" }).click();
  return finish("ours", desk, context, t0);
}

/** This app's phone with a GP's review of 10 s between the pick and Send. */
async function oursReviewed(browser: Browser, baseURL: string, files: Record<string, Buffer>) {
  const { desk, context, phone } = await picked(browser, baseURL, files);
  const pickedAt = Date.now();
  await phone.getByRole("button", { name: "Continue" }).click();
  await phone.getByRole("button", { name: "Left", exact: true }).click();
  await phone.getByRole("button", { name: "Forearm", exact: true }).click();
  await phone.getByLabel("Description").pressSequentially("Itchy rash, 3 days", { delay: 120 });
  const left = 10_000 - (Date.now() - pickedAt);
  if (left > 0) await phone.waitForTimeout(left);
  const t0 = Date.now();
  await phone.getByRole("button", { name: "Skip details and send" }).click();
  return finish("ours, with a review", desk, context, t0);
}

/** The seed system's way, on the same network and server. */
async function baseline(browser: Browser, baseURL: string, files: Record<string, Buffer>) {
  const desk = await desktop(browser, baseURL, files);
  const context = await browser.newContext({ ...devices["Pixel 7"], baseURL });
  const phone = await context.newPage();
  await benchPage(phone, files);
  await phone.addScriptTag({ content: helpers });
  // The photos are on the phone already: read them before the network slows.
  await phone.evaluate(
    async ({ jpegs, heics }) => {
      const w = window as any;
      w.picked = [];
      for (const name of jpegs) w.picked.push(await w.fixture(name, "image/jpeg"));
      for (const name of heics) w.picked.push(await w.fixture(name, "image/heic"));
    },
    { jpegs: JPEGS, heics: HEICS },
  );
  await throttle(phone);
  const t0 = Date.now();
  await phone.evaluate(async (token) => {
    const w = window as any;
    const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    for (const picked of w.picked as File[]) {
      let file: Blob = picked;
      if (picked.type === "image/heic") file = (await w.heic2any({ blob: picked, toType: "image/jpeg", quality: 0.92 })) as Blob;
      const out: Blob = await w.imageCompression(file, {
        maxSizeMB: 1,
        maxWidthOrHeight: 2560,
        useWebWorker: true,
        libURL: location.origin + "/__bench/lib/browser-image-compression.js",
      });
      const ticket = await (
        await fetch("/api/medtech/session/presigned-url", {
          method: "POST",
          headers: auth,
          body: JSON.stringify({ contentType: "image/jpeg", size: out.size }),
        })
      ).json();
      const headers: Record<string, string> = {};
      for (const [k, v] of ticket.headers as [string, string][]) {
        if (!["content-length", "host"].includes(k.toLowerCase())) headers[k] = v;
      }
      const put = await fetch(ticket.uploadUrl, { method: ticket.method, headers, body: out });
      if (!put.ok) throw new Error(`PUT ${put.status}`);
      const registered = await fetch("/api/medtech/session/images", {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ imageId: ticket.imageId }),
      });
      if (!registered.ok) throw new Error(`register ${registered.status}`);
    }
  }, desk.token);
  return finish("baseline", desk, context, t0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test("a 5-photo batch from the phone to the desktop over 4G, against the seed system's way", async ({ browser, baseURL }) => {
  const files = fixtures();
  type Run = Awaited<ReturnType<typeof ours>>;
  const runs: { ours: Run; reviewed: Run; baseline: Run }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const o = await ours(browser, baseURL!, files);
    const r = await oursReviewed(browser, baseURL!, files);
    const b = await baseline(browser, baseURL!, files);
    runs.push({ ours: o, reviewed: r, baseline: b });
    const bytes = (r: { photos: { bytes: number }[] }) => r.photos.reduce((s, p) => s + p.bytes, 0);
    console.log(
      `run ${i + 1}: ours ${o.ms} ms, ${bytes(o)} B | with a review ${r.ms} ms after Send, ${bytes(r)} B | baseline ${b.ms} ms, ${bytes(b)} B`,
    );
  }
  const oursMs = median(runs.map((r) => r.ours.ms));
  const reviewedMs = median(runs.map((r) => r.reviewed.ms));
  const baseMs = median(runs.map((r) => r.baseline.ms));
  const perPhoto = (r: { photos: { photo: string; ssim: number; bytes: number }[] }) =>
    Object.fromEntries(r.photos.map((p) => [p.photo, { ssim: Number(p.ssim.toFixed(4)), bytes: p.bytes }]));
  const last = runs[runs.length - 1];
  const total = (r: { photos: { bytes: number }[] }) => r.photos.reduce((s, p) => s + p.bytes, 0);
  const summary = {
    uplink: UPLINK,
    photos: [...JPEGS, ...HEICS],
    oursMs,
    reviewedMs,
    baselineMs: baseMs,
    ratio: Number((oursMs / baseMs).toFixed(3)),
    bytes: { ours: total(last.ours), reviewed: total(last.reviewed), baseline: total(last.baseline) },
    bytesRatio: Number((total(last.ours) / total(last.baseline)).toFixed(3)),
    reviewedRatio: Number((reviewedMs / baseMs).toFixed(3)),
    runs: runs.map((r) => ({ ours: r.ours.ms, reviewed: r.reviewed.ms, baseline: r.baseline.ms })),
    lastRun: {
      ours: perPhoto(last.ours),
      reviewed: perPhoto(last.reviewed),
      baseline: perPhoto(last.baseline),
    },
  };
  console.log("batch:", JSON.stringify(summary, null, 2));
  writeFileSync("bench-results/batch.json", JSON.stringify(summary, null, 2));
});
