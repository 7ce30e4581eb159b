// The phone flow in the engines GPs' phones run, beside Chromium: WebKit
// (Debian's MiniBrowser through WebKitWebDriver, under Xvfb) and Firefox
// (firefox-esr over WebDriver BiDi). Same server, Redis and S3 as the
// Chromium suite; desktop sessions are minted over HTTP.
import { writeFileSync } from "node:fs";
import { expect, test } from "@playwright/test";
// @ts-ignore: plain ES modules
import { desktopImages, desktopSession, phoneLink } from "../engines/common.mjs";
// @ts-ignore
import { launchFirefox } from "../engines/firefox.mjs";
// @ts-ignore
import { launchWebKit } from "../engines/webkit.mjs";
import { metadataSegments, photo, withExif } from "./support/jpeg";

test.describe.configure({ timeout: 180_000, mode: "serial" });

const engines = { webkit: launchWebKit, firefox: launchFirefox } as const;

for (const [engine, launch] of Object.entries(engines)) {
  test.describe(engine, () => {
    test(`${engine}: a 12 MP JPEG (orientation 6, GPS) and an iPhone HEIC, from the link to the desktop`, async ({ baseURL }, testInfo) => {
      const desktop = await desktopSession(baseURL);
      const url = await phoneLink(desktop);
      const jpegPath = testInfo.outputPath("sunset-o6.jpg");
      writeFileSync(jpegPath, withExif(photo("sunset_by_Aitzol_Berasategi.jpg"), 6));
      const heicPath = `${process.env.FIXTURE_HEIC_DIR}/pug.heic`;
      const d = await launch({ width: 390, height: 844 });
      const shot = (name: string) => d.screenshot(testInfo.outputPath(`${engine}-390-${name}.png`));
      try {
        await d.goto(url);
        await d.waitForHydration(60_000);
        await d.installErrorCollector();
        await d.waitForHeading("Add photos", 30_000);
        await shot("capture");
        await d.setFiles("Choose from gallery", [jpegPath, heicPath]);
        await d.waitForHeading("Review", 30_000);
        await d.waitForImage("Photo 2", 90_000);
        await shot("review");
        await d.clickButton("Continue");
        await d.waitForText("Photo 1 of 2", 10_000);
        await shot("details");
        await d.clickButton("Skip details and send");
        await d.waitForHeading("2 photos sent to the desktop", 90_000);
        await d.waitForText("Nothing is kept by this app on the phone.", 5_000);
        await shot("done");
        expect(await d.errors()).toEqual([]);
      } finally {
        await d.close();
      }
      const images: any[] = await desktopImages(desktop);
      expect(images).toHaveLength(2);
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
      // Upright: the orientation-6 landscape is a portrait; the HEIC (4032×3024) stays landscape.
      expect(sizes).toContainEqual([Math.floor((2848 * 2560) / 4272), 2560]);
      expect(sizes).toContainEqual([2560, 1920]);
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
