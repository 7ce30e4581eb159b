// The phone flow in the engines GPs' phones run, beside Chromium: WebKit
// (Debian's MiniBrowser through WebKitWebDriver, under Xvfb) and Firefox
// (firefox-esr over WebDriver BiDi). Same server, Redis and S3 as the
// Chromium suite; desktop sessions are minted over HTTP.
import { writeFileSync } from "node:fs";
import { expect, test, type TestInfo } from "@playwright/test";
// @ts-ignore: plain ES modules
import { desktopImages, desktopSession, phoneLink } from "../engines/common.mjs";
// @ts-ignore
import { launchFirefox } from "../engines/firefox.mjs";
// @ts-ignore
import { launchWebKit } from "../engines/webkit.mjs";
import { metadataSegments, photo, withExif } from "./support/jpeg";

test.describe.configure({ timeout: 180_000, mode: "serial" });

const engines = { webkit: launchWebKit, firefox: launchFirefox } as const;

/** Who decodes HEIC in each engine (Summary.decoder); see the README's engine differences. */
const HEIC_DECODER: Record<string, string> = { webkit: "wasm", firefox: "wasm" };

/** The two phone viewports every screen is looked at in: an iPhone 14's and a Pixel 7's. */
const PHONES = [
  [390, 844],
  [412, 915],
] as const;

/**
 * Screenshots the screen at both phone sizes, and fails on what would make it
 * hard to use at either (layoutProblems in engines/common.mjs). Leaves the
 * viewport at the first size.
 */
async function looked(d: any, testInfo: TestInfo, screen: string) {
  const problems: string[] = [];
  for (const [w, h] of PHONES) {
    await d.setViewport(w, h);
    await d.screenshot(testInfo.outputPath(`${d.name}-${w}-${screen}.png`));
    problems.push(...(await d.layoutProblems()).map((p: string) => `${w}×${h} ${screen}: ${p}`));
  }
  await d.setViewport(...PHONES[0]);
  expect(problems).toEqual([]);
}

for (const [engine, launch] of Object.entries(engines)) {
  test.describe(engine, () => {
    test(`${engine}: a 12 MP JPEG (orientation 6, GPS) and two iPhone HEICs, from the link to the desktop`, async ({ baseURL }, testInfo) => {
      const desktop = await desktopSession(baseURL);
      const url = await phoneLink(desktop);
      const jpegPath = testInfo.outputPath("sunset-o6.jpg");
      writeFileSync(jpegPath, withExif(photo("sunset_by_Aitzol_Berasategi.jpg"), 6));
      // pug: 4032×3024 in 512 px grid tiles; arrow: stored landscape with a 270° rotation.
      const heics = ["pug.heic", "arrow.heic"].map((f) => `${process.env.FIXTURE_HEIC_DIR}/${f}`);
      const d = await launch({ width: PHONES[0][0], height: PHONES[0][1] });
      try {
        await d.goto(url);
        await d.waitForHydration(60_000);
        await d.installErrorCollector();
        await d.waitForHeading("Add photos", 30_000);
        await looked(d, testInfo, "capture");
        await d.setFiles("Choose from gallery", [jpegPath, ...heics]);
        await d.waitForHeading("Review", 30_000);
        await d.waitForImage("Photo 3", 90_000);
        await looked(d, testInfo, "review");
        // Which decoder each photo took, from the summaries the phone keeps.
        let kept = await d.kept();
        for (const until = Date.now() + 10_000; kept.entries.length < 3 && Date.now() < until; kept = await d.kept()) {
          await new Promise((r) => setTimeout(r, 100));
        }
        const decoders = Object.fromEntries(
          kept.entries.map((e: any) => [`${e.summary.source} ${e.summary.width}×${e.summary.height}`, e.summary.decoder]),
        );
        testInfo.annotations.push({ type: "decoders", description: JSON.stringify(decoders) });
        console.log(`${engine}: decoders ${JSON.stringify(decoders)}`);
        expect(kept.entries).toHaveLength(3);
        for (const e of kept.entries) {
          // JPEG always by the browser; HEIC by the browser where it can (Safari), else by WASM.
          expect(e.summary.decoder).toBe(e.summary.source === "heif" ? HEIC_DECODER[engine] : "browser");
        }
        await d.clickButton("Continue");
        await d.waitForText("Photo 1 of 3", 10_000);
        await looked(d, testInfo, "details");
        await d.clickButton("Skip details and send");
        await d.waitForHeading("3 photos sent to the desktop", 90_000);
        await d.waitForText("Nothing is kept by this app on the phone.", 5_000);
        await looked(d, testInfo, "done");
        expect((await d.kept()).entries).toEqual([]);
        expect(await d.errors()).toEqual([]);
      } finally {
        await d.close();
      }
      const images: any[] = await desktopImages(desktop);
      expect(images).toHaveLength(3);
      const sizes = [];
      for (const image of images) {
        expect(image.source).toBe("mobile");
        expect(image.contentType).toBe("image/jpeg");
        expect(image.bytes).toBeLessThanOrEqual(1_000_000);
        expect(Math.max(image.width, image.height)).toBeLessThanOrEqual(2560);
        sizes.push([image.width, image.height]);
        // The stored bytes, read back through the preview URL.
        const stored = Buffer.from(await (await fetch(new URL(image.previewUrl, baseURL))).arrayBuffer());
        expect(stored.length).toBe(image.bytes);
        expect(metadataSegments(stored)).toEqual([]);
        expect(stored.includes(Buffer.from("Exif\0\0"))).toBe(false);
        expect(stored.includes(Buffer.from("TestCam"))).toBe(false);
      }
      // Upright: the orientation-6 landscape and the rotated HEIC are portraits; pug stays landscape.
      expect(sizes).toContainEqual([Math.floor((2848 * 2560) / 4272), 2560]);
      expect(sizes).toContainEqual([2560, 1920]);
      expect(sizes).toContainEqual([1920, 2560]);
    });

    test(`${engine}: dead links say what happened`, async ({ baseURL }, testInfo) => {
      const desktop = await desktopSession(baseURL);
      const old = await phoneLink(desktop);
      await phoneLink(desktop); // a new QR code revokes the old link
      const d = await launch({ width: 390, height: 844 });
      try {
        await d.goto(old);
        await d.waitForHydration(60_000);
        await d.waitForHeading("This link was replaced by a newer QR code.", 30_000);
        await d.screenshot(testInfo.outputPath(`${engine}-390-revoked.png`));
        await d.goto(`${baseURL}/medtech-images/mobile?t=garbage-garbage-garbage-garbage-000000`);
        await d.waitForHydration(60_000);
        await d.waitForHeading("This link is not recognised.", 30_000);
        const ended = await desktopSession(baseURL);
        const link = await phoneLink(ended);
        const r = await fetch(`${baseURL}/api/medtech/session/end`, {
          method: "POST",
          headers: { cookie: ended.cookie, "content-type": "application/json", origin: baseURL! },
          body: "{}",
        });
        expect(r.ok).toBe(true);
        await d.goto(link);
        await d.waitForHydration(60_000);
        await d.waitForHeading("This link has expired.", 30_000);
        await d.screenshot(testInfo.outputPath(`${engine}-390-expired.png`));
      } finally {
        await d.close();
      }
    });
  });
}
