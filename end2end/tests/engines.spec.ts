// The phone flow in the engines GPs' phones run, beside Chromium: WebKit
// (Debian's MiniBrowser through WebKitWebDriver, under Xvfb) and Firefox
// (firefox-esr over WebDriver BiDi). Same server, Redis and S3 as the
// Chromium suite; desktop sessions are minted over HTTP.
import { writeFileSync } from "node:fs";
import { expect, test, type TestInfo } from "@playwright/test";
// @ts-ignore: plain ES modules
import { axeFindings, runAxe } from "../engines/axe.mjs";
// @ts-ignore
import { desktopHeaders, desktopImages, desktopSession, phoneLink } from "../engines/common.mjs";
// @ts-ignore
import { launchFirefox } from "../engines/firefox.mjs";
// @ts-ignore
import { launchWebKit } from "../engines/webkit.mjs";
import { metadataSegments, photo, withExif } from "./support/jpeg";

test.describe.configure({ timeout: 180_000, mode: "serial" });

const engines = { webkit: launchWebKit, firefox: launchFirefox } as const;

const RECORD_ONLY = "Consent: clinical record only; verbal; given by the patient";
const TEACHING = "Consent: clinical record and de-identified teaching; written; given by a parent or guardian";

/** Who decodes HEIC in each engine (Summary.decoder); see the README's engine differences. */
const HEIC_DECODER: Record<string, string> = { webkit: "wasm", firefox: "wasm" };

/** The two phone viewports every screen is looked at in: an iPhone 14's and a Pixel 7's. */
const PHONES = [
  [390, 844],
  [412, 915],
] as const;

/**
 * axe-core (WCAG 2.2 AA tags, axe.min.js injected through the engine's
 * driver) on the page as it stands: no violations, and no needs-review
 * result the README does not explain. Soft, so one run reports them all.
 */
async function axeClean(d: any, testInfo: TestInfo, state: string) {
  const findings = axeFindings(await runAxe(d));
  writeFileSync(testInfo.outputPath(`${d.name}-axe-${state}.json`), JSON.stringify(findings, null, 2));
  expect.soft(findings.violations, `${d.name} axe violations on "${state}"`).toEqual([]);
  expect.soft(findings.unexplained, `${d.name} axe results needing review, unexplained, on "${state}"`).toEqual([]);
}

/**
 * Runs axe on the screen, then screenshots it at both phone sizes, and fails on what would make it
 * hard to use at either (layoutProblems in engines/common.mjs). Leaves the
 * viewport at the first size.
 */
async function looked(d: any, testInfo: TestInfo, screen: string) {
  await axeClean(d, testInfo, `phone-${screen}`);
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
        // Which decoder each photo took (and, for a HEIC, in how many of the
        // pool's workers), from the summaries the phone keeps.
        let kept = await d.kept();
        // The last HEIC may still be in the pipeline (one HEIC at a time, in a
        // development build of the worker): wait for its record.
        for (const until = Date.now() + 30_000; kept.entries.length < 3 && Date.now() < until; kept = await d.kept()) {
          await new Promise((r) => setTimeout(r, 100));
        }
        const decoders = Object.fromEntries(
          kept.entries.map((e: any) => [
            `${e.summary.source} ${e.summary.width}×${e.summary.height}`,
            `${e.summary.decodeWorkers > 1 ? `${e.summary.decoder} ×${e.summary.decodeWorkers}` : e.summary.decoder}, ` +
              `q ${e.summary.quality} after ${e.summary.sampleEncodes} sample encodes (SSIM ${e.summary.sampleSsim?.toFixed(4)})`,
          ]),
        );
        testInfo.annotations.push({ type: "decoders", description: JSON.stringify(decoders) });
        console.log(`${engine}: decoders ${JSON.stringify(decoders)}`);
        expect(kept.entries).toHaveLength(3);
        for (const e of kept.entries) {
          // JPEG always by the browser; HEIC by the browser where it can (Safari), else by WASM.
          expect(e.summary.decoder).toBe(e.summary.source === "heif" ? HEIC_DECODER[engine] : "browser");
          // The SSIM search ran, scoring this engine's own encodes of the
          // sample (the search itself is checked in pipeline.spec.ts).
          expect(e.summary.sampleEncodes).toBeGreaterThan(0);
          expect(e.summary.sampleSsim).toBeGreaterThan(0.9);
          expect(e.summary.sampleSsim).toBeLessThanOrEqual(1);
        }
        await d.clickButton("Continue");
        await d.waitForText("Photo 1 of 3", 10_000);
        // Consent on the first photo, carried forward to the other two.
        await d.clickButton("Clinical record only");
        await d.clickButton("The patient");
        await d.clickButton("Verbal");
        await d.waitForText(RECORD_ONLY, 5_000);
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
        expect(image.metadata.consent).toEqual({ scope: "record", givenBy: "patient", how: "verbal" });
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
      // Upright: the orientation-6 landscape and the rotated HEIC are
      // portraits; pug stays landscape. Listed in the order they were picked.
      expect(sizes).toEqual([[Math.floor((2848 * 2560) / 4272), 2560], [2560, 1920], [1920, 2560]]);
    });

    test(`${engine}: two windows of one browser, two patients: each files into its own record`, async ({ baseURL }, testInfo) => {
      const run = `${engine} windows ${Date.now().toString(36)}`;
      const aroha = "14e52e16edb7a435bfa05e307afd008b";
      const james = "5b1f0c7a9e3d4c2b8a6f1e0d9c8b7a65";
      const d = await launch({ width: 1366, height: 900 });
      const strip = "[role=listbox][aria-label=Photos] [role=option]";
      /** Adds a photo with a description and commits it, checking whose record the dialog names. */
      const fileOne = async (note: string, patient: string) => {
        const before = await d.evaluate((sel: string) => document.querySelectorAll(sel).length, strip);
        await d.setFiles("Add photos", [`${process.env.FIXTURE_PHOTO_DIR}/umang_by_Abhishek_Mudgal.jpg`]);
        await d.waitFor((sel: string, n: number) => document.querySelectorAll(sel).length === n + 1, { timeout: 60_000, what: "the photo in the strip" }, strip, before);
        await d.clickHandle(await d.element((sel: string) => [...document.querySelectorAll(sel)].pop(), strip));
        await d.type("Description", note);
        await d.clickButton("Save details");
        await d.waitFor((sel: string) => [...document.querySelectorAll(sel)].some((e) => (e as HTMLElement).innerText.includes("Ready")), { timeout: 30_000, what: "Ready" }, strip);
        await d.clickButton("Commit 1 image");
        await d.waitFor(
          (p: string) => (document.querySelector("[aria-label='Patient the photos are filed for']") as HTMLElement)?.innerText.includes(p),
          { timeout: 10_000, what: `the commit dialog naming ${patient}` },
          patient,
        );
        await d.clickButton("Confirm and commit");
        await d.waitForText("Reference for support", 60_000);
        await d.clickButton("Close");
      };
      /** Evolution's launch of a patient in this browser, as the sandbox plays it. */
      const evolution = async (patient: string, banner: string) => {
        await d.goto(`${baseURL}/sandbox/alex`);
        await d.evaluate((id: string) => {
          (document.querySelector("select[name=patientId]") as HTMLSelectElement).value = id;
          return true;
        }, patient);
        await d.clickButton("Open in Evolution");
        await d.waitFor(() => location.pathname === "/medtech-images", { timeout: 30_000, what: "the widget's URL" });
        await d.waitForHydration(60_000);
        await d.waitForText(banner, 30_000);
        return d.evaluate(() => location.href);
      };
      try {
        const firstUrl = await evolution(aroha, "Aroha Testpatient · NHI ZZZ0016");
        await d.installErrorCollector();
        // Another consultation's launch in this browser: its session's own
        // cookie joins the first's in the same cookie jar.
        const secondUrl = await evolution(james, "James Sample · NHI ZZZ0024");
        expect(secondUrl).toMatch(/\/medtech-images\?session=[0-9a-f]{16}$/);
        expect(secondUrl).not.toBe(firstUrl);
        // The first window's page still files for Aroha, after that launch.
        await d.goto(firstUrl);
        await d.waitForHydration(60_000);
        await d.waitForText("Aroha Testpatient · NHI ZZZ0016", 30_000);
        await d.waitFor(() => [...document.querySelectorAll("[role=status]")].some((e) => (e as HTMLElement).innerText.includes("Live")), { what: "Live", timeout: 30_000 });
        await fileOne(`${run} one`, "Aroha Testpatient");
        await d.screenshot(testInfo.outputPath(`${engine}-windows-first.png`));
        // The second launch's window works for James.
        await d.goto(secondUrl);
        await d.waitForHydration(60_000);
        await d.waitForText("James Sample · NHI ZZZ0024", 30_000);
        await d.waitFor(() => [...document.querySelectorAll("[role=status]")].some((e) => (e as HTMLElement).innerText.includes("Live")), { what: "Live", timeout: 30_000 });
        await fileOne(`${run} two`, "James Sample");
        expect(await d.errors()).toEqual([]);
      } finally {
        await d.close();
      }
      const inbox: any[] = await (await fetch(`${baseURL}/sandbox/alex/inbox.json`)).json();
      const whose = (note: string) => inbox.filter((r) => JSON.stringify(r.resource.note ?? "").includes(note)).map((r) => r.patientId);
      expect(whose(`${run} one`)).toEqual([aroha]);
      expect(whose(`${run} two`)).toEqual([james]);
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
        await axeClean(d, testInfo, "phone-revoked");
        await d.screenshot(testInfo.outputPath(`${engine}-390-revoked.png`));
        await d.goto(`${baseURL}/medtech-images/mobile?t=garbage-garbage-garbage-garbage-000000`);
        await d.waitForHydration(60_000);
        await d.waitForHeading("This link is not recognised.", 30_000);
        const ended = await desktopSession(baseURL);
        const link = await phoneLink(ended);
        const r = await fetch(`${baseURL}/api/medtech/session/end`, {
          method: "POST",
          headers: { ...desktopHeaders(ended), "content-type": "application/json", origin: baseURL! },
          body: "{}",
        });
        expect(r.ok).toBe(true);
        await d.goto(link);
        await d.waitForHydration(60_000);
        await d.waitForHeading("This link has expired.", 30_000);
        await axeClean(d, testInfo, "phone-expired");
        // The pages a GP meets before a session: the landing page, and the widget opened without a launch.
        await d.setViewport(1366, 900);
        await d.goto(`${baseURL}/`);
        await d.waitForHydration(60_000);
        await axeClean(d, testInfo, "landing");
        await d.goto(`${baseURL}/medtech-images`);
        await d.waitForHydration(60_000);
        await axeClean(d, testInfo, "desktop-no-session");
        await d.screenshot(testInfo.outputPath(`${engine}-390-expired.png`));
      } finally {
        await d.close();
      }
    });

    test(`${engine}: the desktop widget at 1366×900: add a photo, set side and body site, commit to the sandbox`, async ({ baseURL }, testInfo) => {
      const note = `engine ${engine} ${Date.now().toString(36)}`;
      const d = await launch({ width: 1366, height: 900 });
      const shot = (name: string) => d.screenshot(testInfo.outputPath(`${engine}-1366-${name}.png`));
      try {
        // Evolution's launch, as the sandbox plays it: a real form post, signed context.
        await d.goto(`${baseURL}/sandbox/alex`);
        await d.evaluate(() => {
          const select = document.querySelector("select[name=patientId]") as HTMLSelectElement;
          select.value = "5b1f0c7a9e3d4c2b8a6f1e0d9c8b7a65"; // James Sample (ZZZ0024)
          return true;
        });
        await d.clickButton("Open in Evolution");
        await d.waitFor(() => location.pathname === "/medtech-images", { timeout: 30_000, what: "the widget's URL" });
        await d.waitForHydration(60_000);
        await d.installErrorCollector();
        await d.waitForText("James Sample · NHI ZZZ0024", 30_000);
        await d.waitFor(() => [...document.querySelectorAll("[role=status]")].some((e) => (e as HTMLElement).innerText.includes("Live")), {
          what: "the Live status",
          timeout: 30_000,
        });
        await axeClean(d, testInfo, "desktop-empty");
        await d.setFiles("Add photos", [`${process.env.FIXTURE_PHOTO_DIR}/umang_by_Abhishek_Mudgal.jpg`]);
        const strip = "[role=listbox][aria-label=Photos] [role=option]";
        await d.waitFor((sel: string) => document.querySelectorAll(sel).length === 1, { timeout: 60_000, what: "one photo in the strip" }, strip);
        await d.clickHandle(await d.element((sel: string) => document.querySelector(sel), strip));
        await d.waitForHeading("Details · Photo 1", 10_000);
        await d.clickLabel("Left");
        await d.type("Search body sites", "forearm");
        await d.waitFor(() => [...document.querySelectorAll("button.site-option")].some((b) => (b as HTMLElement).innerText.startsWith("Forearm")), {
          what: "Forearm in the body sites",
        });
        await d.clickHandle(
          await d.element(() => [...document.querySelectorAll("button.site-option")].find((b) => (b as HTMLElement).innerText.startsWith("Forearm"))),
        );
        await d.waitForText("(SNOMED 14975008)", 5_000);
        await d.type("Description", note);
        await d.choose("For", "Record and de-identified teaching");
        await d.choose("Given by", "A parent or guardian");
        await d.choose("How", "Written");
        await d.waitForText(TEACHING, 5_000);
        await d.clickButton("Save details");
        await d.waitFor(
          (sel: string) => (document.querySelector(sel) as HTMLElement)?.innerText.includes("Ready"),
          { timeout: 30_000, what: "the photo Ready" },
          strip,
        );
        await shot("details");
        await axeClean(d, testInfo, "desktop-details");
        // Each dialog, opened and closed by its buttons.
        for (const [open, title, close] of [
          ["Shortcuts", "Keyboard shortcuts", "Close"],
          ["Delete", "Delete photo 1?", "Cancel"],
          ["Edit", "Edit photo 1", "Cancel"],
        ]) {
          await d.clickButton(open, 10_000);
          await d.waitForText(title, 10_000);
          // Modal in this engine too: focus moves in, and the page behind is inert.
          await d.waitFor(() => document.activeElement?.closest("[role=dialog]") != null, {
            timeout: 10_000,
            what: `focus inside ${title}`,
          });
          expect(await d.evaluate(() => (document.querySelector(".desk__main") as HTMLElement).inert)).toBe(true);
          await shot(open.toLowerCase());
          await axeClean(d, testInfo, `desktop-${open.toLowerCase()}`);
          await d.clickButton(close, 10_000);
          await d.waitFor(() => !document.querySelector("[role=dialog]"), { timeout: 10_000, what: `${title} closed` });
          // Focus comes back to the page (its opener, or the photo), not the body.
          await d.waitFor(() => document.activeElement != null && document.activeElement !== document.body, {
            timeout: 10_000,
            what: `focus back on the page after ${title}`,
          });
          expect(await d.evaluate(() => (document.querySelector(".desk__main") as HTMLElement).inert)).toBe(false);
        }
        await d.clickButton("Commit 1 image");
        await d.waitForText("Clinical images (Media)", 10_000);
        await shot("commit-dialog");
        await axeClean(d, testInfo, "desktop-commit");
        await d.clickButton("Confirm and commit");
        await d.waitForText("Reference for support", 60_000);
        await shot("committed");
        await axeClean(d, testInfo, "desktop-committed");
        // Filed photos keep no copy here, so the strip and preview show no (broken) image of them.
        await d.clickButton("Close");
        await d.waitForText("Filed in the patient's record. No copy is kept here.", 10_000);
        expect(await d.evaluate(() => [...document.images].filter((i) => i.complete && i.naturalWidth === 0).map((i) => i.alt))).toEqual([]);
        await shot("filed");
        await axeClean(d, testInfo, "desktop-filed");
        expect(await d.errors()).toEqual([]);
      } finally {
        await d.close();
      }
      // Filed once, in the sandbox, with what was checked.
      const inbox: any[] = await (await fetch(`${baseURL}/sandbox/alex/inbox.json`)).json();
      const filed = inbox.filter((r) => JSON.stringify(r.resource.note ?? "").includes(note));
      expect(filed).toHaveLength(1);
      expect(filed[0].patientId).toBe("5b1f0c7a9e3d4c2b8a6f1e0d9c8b7a65");
      const site = JSON.stringify(filed[0].resource.bodySite);
      expect(site).toContain("14975008"); // forearm
      expect(site).toContain("7771000"); // left
      expect(JSON.stringify(filed[0].resource.note)).toContain(TEACHING);
    });
  });
}
