// WCAG 2.2 AA in Chromium (issue 32): axe-core with the wcag2a, wcag2aa,
// wcag21a, wcag21aa and wcag22aa tags on every screen and dialog state of
// the desktop and the phone, 0 violations and every needs-review result
// explained; and reflow: the desktop at 320 px (1280 px at 400 % zoom) and
// the phone at 200 % text, with no sideways scroll and no control cut off,
// covered or under its target size (24 px desktop, 44 px phone).
// WebKit and Firefox run the same axe checks in engines.spec.ts.
import { devices, expect, test, type Page, type TestInfo } from "@playwright/test";
import { axeClean, doubleText, reflows } from "./support/a11y";
import { screenshot, waitForHydration } from "./support/hydration";
import { photo } from "./support/jpeg";
import { desktopSession, phoneLink } from "./support/session";

test.describe.configure({ timeout: 180_000 });

const WIDE = { width: 1366, height: 900 };
const NARROW = { width: 320, height: 640 };

/** axe at the desktop's usual size, then reflow at 320 px, then back. */
async function desktopState(page: Page, testInfo: TestInfo, state: string) {
  await axeClean(page, testInfo, state);
  await page.setViewportSize(NARROW);
  await reflows(page, testInfo, `${state}-320`, 24);
  await page.setViewportSize(WIDE);
}

const dialog = (page: Page) => page.getByRole("dialog");

test("desktop: every screen and dialog passes axe, and reflows at 320 px", async ({ browser, baseURL }, testInfo) => {
  const context = await browser.newContext({ baseURL, viewport: WIDE });
  const page = await context.newPage();
  await page.goto("/");
  await waitForHydration(page);
  await desktopState(page, testInfo, "landing");
  await page.goto("/medtech-images");
  await waitForHydration(page);
  await desktopState(page, testInfo, "no-session");
  await page.goto("/sandbox/alex");
  await desktopState(page, testInfo, "sandbox-launcher");

  const patient = `ax${Date.now().toString(16)}`.padEnd(32, "0").slice(0, 32);
  await page.goto(`/medtech-images?patientId=${patient}&facilityId=F2N060-E`);
  await waitForHydration(page);
  await expect(page.getByRole("status").filter({ hasText: "Live" })).toBeVisible();
  await desktopState(page, testInfo, "workspace-empty");

  await page.getByLabel("Add photos").setInputFiles([
    { name: "bridge.jpg", mimeType: "image/jpeg", buffer: photo("Bridge_by_Sander_Klootwijk.jpg") },
  ]);
  const thumb = page.getByRole("listbox", { name: "Photos" }).getByRole("option");
  await expect(thumb).toHaveCount(1, { timeout: 60_000 });
  await thumb.click();
  await expect(page.getByRole("img", { name: "Photo 1, large" })).toBeVisible();
  await desktopState(page, testInfo, "workspace-photo");
  await page.getByRole("button", { name: "Zoom in" }).click();
  await desktopState(page, testInfo, "workspace-zoomed");
  await page.getByRole("button", { name: "Fit" }).click();

  await page.getByRole("button", { name: "Phone (QR)" }).click();
  await expect(page.getByRole("region", { name: "Phone" })).toBeVisible();
  await expect(page.getByRole("img", { name: /QR code/ })).toBeVisible({ timeout: 15_000 });
  await desktopState(page, testInfo, "qr-panel");
  await page.getByRole("button", { name: "Phone (QR)" }).click();

  await page.getByRole("button", { name: "Show earlier photos" }).click();
  await expect(page.getByRole("region", { name: "Earlier photos" })).not.toContainText("Looking", { timeout: 15_000 });
  await desktopState(page, testInfo, "earlier-photos");

  const dialogs: [string, string, () => Promise<void>][] = [
    ["shortcuts", "Keyboard shortcuts", () => page.getByRole("button", { name: "Shortcuts" }).click()],
    ["delete", "Delete photo 1?", () => page.getByRole("button", { name: "Delete", exact: true }).click()],
    ["webcam", "Webcam", () => page.getByRole("button", { name: "Webcam" }).click()],
    ["commit", "Commit 1 image", () => page.getByRole("button", { name: "Commit 1 image" }).click()],
  ];
  for (const [state, title, open] of dialogs) {
    await open();
    await expect(dialog(page)).toContainText(title);
    await desktopState(page, testInfo, state);
    await page.keyboard.press("Escape");
    await expect(dialog(page)).toHaveCount(0);
  }

  await page.getByRole("button", { name: "Edit", exact: true }).click();
  await expect(dialog(page).getByText("Result: 2560 × 1440 px")).toBeVisible();
  await desktopState(page, testInfo, "editor-crop");
  await dialog(page).getByRole("button", { name: "Arrow", exact: true }).click();
  await dialog(page).getByRole("button", { name: "Place in the middle" }).click();
  await desktopState(page, testInfo, "editor-mark");
  page.once("dialog", (d) => void d.accept());
  await page.keyboard.press("Escape");
  await expect(dialog(page)).toHaveCount(0);

  // After a commit: the results, in the dialog.
  await page.getByRole("button", { name: "Commit 1 image" }).click();
  await dialog(page).getByRole("button", { name: "Confirm and commit" }).click();
  await expect(dialog(page).getByRole("button", { name: "Close" })).toBeVisible({ timeout: 30_000 });
  await desktopState(page, testInfo, "commit-done");
  await page.keyboard.press("Escape");
  await desktopState(page, testInfo, "workspace-filed");
  await context.close();
});

test("phone: every screen passes axe, and reflows at 200 % text", async ({ browser, baseURL }, testInfo) => {
  const desktop = await desktopSession(browser, baseURL!);
  const url = await phoneLink(desktop);
  const { defaultBrowserType: _, ...pixel } = devices["Pixel 7"];
  const context = await browser.newContext({ ...pixel, baseURL });
  const page = await context.newPage();
  const state = async (name: string) => {
    await axeClean(page, testInfo, `phone-${name}`);
    await doubleText(page);
    await reflows(page, testInfo, `phone-${name}-200`, 44);
    await page.evaluate(() => document.documentElement.style.removeProperty("font-size"));
  };

  await page.goto(url);
  await waitForHydration(page);
  await expect(page.getByRole("heading", { name: "Add photos" })).toBeVisible();
  await state("capture");

  // The uploads (which start during review) are held, so that the sending
  // screen stays long enough to be looked at.
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route("**/*", async (route) => {
    if (route.request().method() === "PUT") await held;
    await route.continue();
  });
  await page.getByLabel("Choose from gallery").setInputFiles([
    { name: "bridge.jpg", mimeType: "image/jpeg", buffer: photo("Bridge_by_Sander_Klootwijk.jpg") },
    { name: "umang.jpg", mimeType: "image/jpeg", buffer: photo("umang_by_Abhishek_Mudgal.jpg") },
  ]);
  await expect(page.getByRole("heading", { name: "Review" })).toBeVisible();
  await expect(page.getByRole("img", { name: "Photo 2" })).toBeVisible({ timeout: 30_000 });
  // Focus moves to each screen's heading, for a screen reader's user.
  await expect(page.getByRole("heading", { name: "Review" })).toBeFocused();
  await state("review");

  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByText("Photo 1 of 2")).toBeVisible();
  await expect(page.getByRole("heading", { level: 1 })).toBeFocused();
  await page.getByRole("button", { name: "Left", exact: true }).click();
  await page.getByRole("button", { name: "Forearm", exact: true }).click();
  await state("details");
  await page.getByRole("button", { name: "Next" }).click();
  await expect(page.getByText("Photo 2 of 2")).toBeVisible();
  await page.getByRole("button", { name: "Same as previous" }).click();

  // Sending; its progress is announced.
  await page.getByRole("button", { name: "Send all" }).click();
  await expect(page.getByRole("heading", { name: /Sending \d of 2/ })).toBeVisible();
  await expect(page.getByRole("heading", { name: /Sending \d of 2/ })).toBeFocused();
  await expect(page.getByRole("status").filter({ hasText: /Sending photo \d of 2/ })).toHaveCount(1);
  await state("sending");
  release();

  await expect(page.getByRole("heading", { name: "2 photos sent to the desktop" })).toBeVisible({ timeout: 60_000 });
  await expect(page.getByRole("heading", { name: "2 photos sent to the desktop" })).toBeFocused();
  await state("done");
  await screenshot(page, testInfo, "phone-done");

  await page.goto("/m/not-a-real-token");
  await waitForHydration(page);
  await state("unknown-link");
  await context.close();
  await desktop.context.close();
});
