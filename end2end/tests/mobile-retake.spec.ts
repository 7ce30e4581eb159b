// "Retake like last time" (issue 29): the GP picks an earlier photo on the
// desktop; the phone shows it over Chromium's fake rear camera, and the
// photo taken there arrives on the desktop with the earlier photo's site
// and side already set.
import { expect, test } from "@playwright/test";
import { screenshot, waitForHydration } from "./support/hydration";
import { desktopImages, launchFromSandbox, phoneLink } from "./support/session";

test.describe.configure({ timeout: 120_000 });

test("retake on the phone: the earlier photo guides the camera, and the new photo keeps its site and side", async ({ page, browser, baseURL }, testInfo) => {
  const context = await browser.newContext({ baseURL, viewport: { width: 1366, height: 900 } });
  const desk = await context.newPage();
  await launchFromSandbox(desk, "Mere Example (ZZZ0032)");
  const panel = desk.getByRole("region", { name: "Earlier photos" });
  await panel.getByRole("button", { name: "Show earlier photos" }).click();
  const forearm = panel.locator(".earlier__group").filter({ has: desk.getByRole("heading", { name: /^Left forearm · 3/ }) });
  await expect(forearm).toHaveCount(1, { timeout: 30_000 });
  await forearm.getByRole("button", { name: /^Compare with the photo of / }).first().click();
  const compare = desk.getByRole("dialog", { name: /^Compare with / });
  await compare.getByRole("button", { name: "Retake on phone" }).click();
  await expect(compare.getByText(/as a guide for 10 minutes/)).toBeVisible();

  // The phone: the offer, then the guide over the live camera.
  await page.goto(await phoneLink({ context, page: desk }));
  await waitForHydration(page);
  await page.getByRole("button", { name: "Retake like last time" }).click();
  await expect(page.getByRole("heading", { name: "Line it up with last time" })).toBeVisible();
  const camera = page.getByLabel("Camera", { exact: true });
  await expect.poll(() => camera.evaluate((v: HTMLVideoElement) => v.videoWidth > 0 && !v.paused), { timeout: 15_000 }).toBe(true);
  const guide = page.getByRole("img", { name: "The earlier photo, as a guide" });
  await expect.poll(() => guide.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0)).toBe(true);
  await page.getByLabel("Guide opacity").fill("60");
  await expect.poll(() => guide.evaluate((i) => getComputedStyle(i).opacity)).toBe("0.6");
  await screenshot(page, testInfo, "phone-guided-capture");
  await page.getByRole("button", { name: "Take photo" }).click();

  await expect(page.getByRole("heading", { name: "Review" })).toBeVisible();
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("button", { name: "Left", exact: true })).toHaveAttribute("aria-pressed", "true");
  await page.getByRole("button", { name: /^Send/ }).click();
  await expect(page.getByRole("heading", { name: /sent to the desktop/ })).toBeVisible({ timeout: 60_000 });

  await expect.poll(async () => (await desktopImages({ context, page: desk })).length, { timeout: 30_000 }).toBe(1);
  const [sent] = await desktopImages({ context, page: desk });
  expect(sent.source).toBe("mobile");
  expect(sent.metadata.bodySite).toBe("14975008");
  expect(sent.metadata.laterality).toBe("left");
  await context.close();
});
