// The desktop's dialogs by keyboard alone (issue 32): each takes focus as it
// opens, keeps Tab inside (the page behind it is inert), gives focus back to
// the control that opened it as it closes, and Escape asks before throwing
// away unsaved edits. After a commit, focus stays in the commit dialog,
// beside the results, and the outcome is announced. Single-key shortcuts
// can be turned off, and stay off.
import { expect, test, type Page } from "@playwright/test";
import { screenshot, waitForHydration } from "./support/hydration";
import { photo } from "./support/jpeg";

test.describe.configure({ timeout: 120_000 });

const dialog = (page: Page) => page.getByRole("dialog");

/** Where focus is: "dialog", "body", or the focused control's text or label. */
async function focus(page: Page): Promise<string> {
  return page.evaluate(() => {
    const active = document.activeElement as HTMLElement | null;
    if (!active || active === document.body) return "body";
    if (active.closest('[role="dialog"]')) return "dialog";
    return (active.getAttribute("aria-label") ?? active.textContent ?? active.tagName).trim();
  });
}

/** Tabs `presses` times (forwards, then backwards): focus never reaches the
 *  page behind the dialog. Leaving the document for the browser's own UI
 *  (the body, between the last control and the first) is allowed. */
async function tabStaysInside(page: Page, presses: number) {
  for (const key of ["Tab", "Shift+Tab"]) {
    for (let i = 0; i < presses; i++) {
      await page.keyboard.press(key);
      const at = await focus(page);
      expect(["dialog", "body"], `${key} ${i + 1} reached "${at}" behind the dialog`).toContain(at);
    }
  }
}

test("every dialog takes, keeps and gives back focus, by keyboard alone", async ({ browser, baseURL }, testInfo) => {
  const context = await browser.newContext({ baseURL, viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  // A development launch: a patient of this test's own.
  const patient = `kb${Date.now().toString(16)}`.padEnd(32, "0").slice(0, 32);
  await page.goto(`/medtech-images?patientId=${patient}&facilityId=F2N060-E`);
  await waitForHydration(page);
  await expect(page.getByRole("status").filter({ hasText: "Live" })).toBeVisible();
  await page.getByLabel("Add photos").setInputFiles([
    { name: "bridge.jpg", mimeType: "image/jpeg", buffer: photo("Bridge_by_Sander_Klootwijk.jpg") },
  ]);
  const thumb = page.getByRole("listbox", { name: "Photos" }).getByRole("option");
  await expect(thumb).toHaveCount(1, { timeout: 60_000 });
  // One live region for the page's life, empty until there is news.
  await expect(page.getByTestId("announcer")).toHaveAttribute("role", "status");

  // A file that is no photo fails in the strip. Its Dismiss is a target of
  // 24 px at least, clear of the message (WCAG 2.5.8), and works by keyboard.
  await page.getByLabel("Add photos").setInputFiles([
    { name: "notes.jpg", mimeType: "image/jpeg", buffer: Buffer.from("these are notes, not a photo") },
  ]);
  const failed = page.locator(".strip__item--pending").filter({ hasText: "Failed" });
  await expect(failed).toHaveCount(1, { timeout: 30_000 });
  const dismiss = failed.getByRole("button", { name: "Dismiss" });
  const box = (await dismiss.boundingBox())!;
  expect(box.width).toBeGreaterThanOrEqual(24);
  expect(box.height).toBeGreaterThanOrEqual(24);
  const message = (await failed.getByRole("alert").boundingBox())!;
  expect(box.y >= message.y + message.height || box.y + box.height <= message.y, "Dismiss clear of the message").toBe(true);
  await screenshot(page, testInfo, "dialogs-failed-upload");
  await dismiss.focus();
  await page.keyboard.press("Enter");
  await expect(failed).toHaveCount(0);

  // The shortcut sheet, opened from its button.
  const shortcuts = page.getByRole("button", { name: "Shortcuts" });
  await shortcuts.focus();
  await page.keyboard.press("Enter");
  await expect(dialog(page)).toBeVisible();
  await expect.poll(() => focus(page)).toBe("dialog");
  await tabStaysInside(page, 8);
  await page.keyboard.press("Escape");
  await expect(dialog(page)).toHaveCount(0);
  await expect(shortcuts).toBeFocused();

  // Delete, from the photo in the strip: Escape keeps the photo.
  await thumb.focus();
  await page.keyboard.press("Enter");
  await expect(thumb).toHaveAttribute("aria-selected", "true");
  await page.keyboard.press("Delete");
  await expect(dialog(page)).toContainText("Delete photo 1?");
  await expect.poll(() => focus(page)).toBe("dialog");
  await tabStaysInside(page, 6);
  await page.keyboard.press("Escape");
  await expect(dialog(page)).toHaveCount(0);
  await expect(thumb).toBeFocused();

  // The editor, by its shortcut: it takes focus, and Tab stays in it.
  await page.keyboard.press("e");
  await expect(dialog(page)).toContainText("Edit photo 1");
  await expect.poll(() => focus(page)).toBe("dialog");
  await tabStaysInside(page, 30);
  // An unsaved edit: Escape asks first; dismissed, the edit stays.
  await dialog(page).getByRole("button", { name: "Rotate right" }).focus();
  await page.keyboard.press("Enter");
  let asked = "";
  page.once("dialog", (d) => {
    asked = d.message();
    void d.dismiss();
  });
  await page.keyboard.press("Escape");
  await expect.poll(() => asked).toBe("Discard your changes to this photo?");
  await expect(dialog(page)).toContainText("Edit photo 1");
  await screenshot(page, testInfo, "dialogs-editor-kept");
  page.once("dialog", (d) => void d.accept());
  await page.keyboard.press("Escape");
  await expect(dialog(page)).toHaveCount(0);
  await expect(thumb).toBeFocused();

  // Single-key shortcuts can be turned off (WCAG 2.1.4), and stay off.
  await shortcuts.focus();
  await page.keyboard.press("Enter");
  const letters = dialog(page).getByRole("checkbox", { name: /Single-key shortcuts/ });
  await expect(letters).toBeFocused();
  await expect(letters).toBeChecked();
  await page.keyboard.press("Space");
  await expect(letters).not.toBeChecked();
  await screenshot(page, testInfo, "dialogs-shortcut-setting");
  await page.keyboard.press("Escape");
  await expect(shortcuts).toBeFocused();
  await page.reload();
  await waitForHydration(page);
  await expect(thumb).toHaveCount(1);
  await thumb.focus();
  for (const key of ["e", "?", "q"]) await page.keyboard.press(key);
  // Arrows still act: the photo stays selected and focused after them.
  await page.keyboard.press("ArrowRight");
  await expect(page.getByRole("region", { name: "Phone" })).toHaveCount(0);
  await expect(dialog(page)).toHaveCount(0);
  // On again, from the sheet: "e" edits.
  await shortcuts.focus();
  await page.keyboard.press("Enter");
  await page.keyboard.press("Space");
  await expect(letters).toBeChecked();
  await page.keyboard.press("Escape");
  await thumb.focus();
  await page.keyboard.press("Enter");
  await page.keyboard.press("e");
  await expect(dialog(page)).toContainText("Edit photo 1");
  await page.keyboard.press("Escape");
  await expect(dialog(page)).toHaveCount(0);

  // Commit: focus stays in the dialog once the Confirm button is gone.
  const commit = page.getByRole("button", { name: "Commit 1 image" });
  await commit.focus();
  await page.keyboard.press("Enter");
  await expect(dialog(page)).toContainText("Commit 1 image");
  await expect.poll(() => focus(page)).toBe("dialog");
  const confirm = dialog(page).getByRole("button", { name: "Confirm and commit" });
  await expect(confirm).toBeEnabled({ timeout: 15_000 });
  await confirm.focus();
  await page.keyboard.press("Enter");
  await expect(dialog(page).getByRole("button", { name: "Close" })).toBeVisible({ timeout: 30_000 });
  await expect(confirm).toHaveCount(0);
  await expect(dialog(page).getByRole("button", { name: "Close" })).toBeFocused();
  // The outcome, in the page's one polite live region (there from the start).
  await expect(page.getByTestId("announcer")).toHaveText(/^Commit finished: \d+ filed/);
  await screenshot(page, testInfo, "dialogs-commit-done");
  await page.keyboard.press("Escape");
  await expect(dialog(page)).toHaveCount(0);
  // The Commit button is disabled once the photo is filed, or still there
  // if it was not: focus is on it, or on the photo, never lost.
  await expect.poll(() => focus(page)).not.toBe("body");
  await context.close();
});
