// The patient's earlier photos (issue 29): the panel lists the sandbox's
// earlier filings of Mere Example grouped by site and side, and the compare
// view works from the keyboard alone: open, zoom, pan, overlay, opacity, close.
import { expect, test } from "@playwright/test";
import { screenshot } from "./support/hydration";
import { launchFromSandbox } from "./support/session";
import { photo } from "./support/jpeg";

test("earlier photos: grouped by site and side; the compare view by keyboard", async ({ page }, testInfo) => {
  await launchFromSandbox(page, "Mere Example (ZZZ0032)");
  const panel = page.getByRole("region", { name: "Earlier photos" });
  // The sandbox's four earlier photos (the consent spec may file more for
  // Mere Example meanwhile: they would be listed too).
  await panel.getByRole("button", { name: "Show earlier photos" }).click();
  const forearm = panel.locator(".earlier__group").filter({ has: page.getByRole("heading", { name: /^Left forearm · 3/ }) });
  await expect(forearm).toHaveCount(1, { timeout: 30_000 });
  await expect(panel.getByRole("heading", { name: /^Right knee region · 1/ })).toBeVisible();
  const items = forearm.getByRole("button", { name: /^Compare with the photo of / });
  await expect(items).toHaveCount(3);
  // Every thumbnail is a picture the browser could show.
  for (const img of await panel.locator("img").all()) {
    await expect.poll(() => img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0)).toBe(true);
  }

  // Today's photo, then the earlier one beside it.
  await page.getByLabel("Add photos").setInputFiles([
    { name: "today.jpg", mimeType: "image/jpeg", buffer: photo("Dragonfly_by_Bolly.jpg") },
  ]);
  await expect(page.getByRole("listbox", { name: "Photos" }).getByRole("option")).toHaveCount(1, { timeout: 60_000 });
  await screenshot(page, testInfo, "desktop-earlier-panel");
  await items.first().focus();
  await page.keyboard.press("Enter");
  const compare = page.getByRole("dialog", { name: /^Compare with / });
  await expect(compare).toBeVisible();
  // It takes focus as it opens: its keys work at once.
  await expect.poll(() => compare.evaluate((d) => d.contains(document.activeElement))).toBe(true);
  const pictures = compare.locator("img");
  await expect(pictures).toHaveCount(2);
  await expect.poll(() => pictures.nth(1).evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 320)).toBe(true);

  // One zoom and one pan for both photos.
  await page.keyboard.press("+");
  await page.keyboard.press("+");
  await expect(compare.getByText("156%")).toBeVisible();
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("ArrowUp");
  const transforms = () => pictures.evaluateAll((imgs) => imgs.map((i) => (i as HTMLElement).style.transform));
  const [a, b] = await transforms();
  expect(a).toBe(b);
  expect(a).toContain("translate(40px, 40px)");
  await screenshot(page, testInfo, "desktop-compare-side-by-side");

  // Overlay, with the earlier photo's opacity set from the keyboard.
  await page.keyboard.press("o");
  const slider = compare.getByRole("slider", { name: "Earlier photo opacity" });
  await expect(slider).toBeVisible();
  await slider.focus();
  await page.keyboard.press("ArrowLeft");
  await expect(slider).toHaveValue("45");
  const over = compare.locator("img.compare__img--over");
  await expect.poll(() => over.evaluate((i) => getComputedStyle(i).opacity)).toBe("0.45");
  await screenshot(page, testInfo, "desktop-compare-overlay");

  await compare.getByRole("button", { name: "Fit" }).focus();
  await page.keyboard.press("Enter");
  await expect(compare.getByText("100%")).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(compare).toBeHidden();
  // Focus is back on the earlier photo that opened it.
  await expect(items.first()).toBeFocused();
});
