// Edits without a mouse or a drag (issue 32; WCAG 2.1.1 and 2.5.7): a crop
// typed in and stepped by arrow keys, an arrow placed by Enter and moved by
// keys, a text label placed by a button, a box placed by one click, undo
// and redo by keys; a zoomed preview panned by buttons and arrow keys; and a
// whole capture-to-commit by keyboard, through the real Evolution launch.
import { expect, test, type Page } from "@playwright/test";
import { screenshot, waitForHydration } from "./support/hydration";
import { photo } from "./support/jpeg";
import { launchFromSandbox } from "./support/session";

test.describe.configure({ timeout: 120_000 });

/** A development launch for a patient of this test's own. */
async function launch(page: Page, tag: string) {
  const patient = `${tag}${Date.now().toString(16)}`.padEnd(32, "0").slice(0, 32);
  await page.goto(`/medtech-images?patientId=${patient}&facilityId=F2N060-E`);
  await waitForHydration(page);
  await expect(page.getByRole("status").filter({ hasText: "Live" })).toBeVisible();
}

async function addBridge(page: Page, count = 1) {
  const files = Array.from({ length: count }, (_, i) => ({
    name: `bridge-${i}.jpg`,
    mimeType: "image/jpeg",
    buffer: photo("Bridge_by_Sander_Klootwijk.jpg"),
  }));
  await page.getByLabel("Add photos").setInputFiles(files);
  await expect(page.getByRole("listbox", { name: "Photos" }).getByRole("option")).toHaveCount(count, { timeout: 60_000 });
}

/** Presses Enter on a control reached by focus, as a keyboard user would. */
async function press(page: Page, control: ReturnType<Page["getByRole"]>) {
  await control.focus();
  await page.keyboard.press("Enter");
}

test("a crop, an arrow and a text label made without the mouse; undo and redo by keys; saved at the crop's size", async ({
  page,
}, testInfo) => {
  await launch(page, "ke");
  // Bridge: 2560×1440 after the pipeline. One step is 1440 / 50 = 28.8 px.
  await addBridge(page);
  await page.getByRole("listbox", { name: "Photos" }).getByRole("option").focus();
  await page.keyboard.press("Enter");
  await page.keyboard.press("e");
  const editor = page.getByRole("dialog", { name: "Edit photo 1" });
  await expect(editor.getByText("Result: 2560 × 1440 px")).toBeVisible();

  // The crop, typed in (the crop tool is the default).
  const crop = editor.getByRole("group", { name: "Crop, in pixels" });
  await crop.getByLabel("Width").focus();
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.type("1280");
  await page.keyboard.press("Tab");
  await expect(editor.getByText("Result: 1280 × 1440 px")).toBeVisible();
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.type("720");
  await page.keyboard.press("Tab");
  await expect(editor.getByText("Result: 1280 × 720 px")).toBeVisible();

  // Then stepped on the photo: two steps right, one narrower.
  const canvas = editor.getByLabel("Photo being edited");
  await canvas.focus();
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowRight");
  await expect(crop.getByLabel("Left")).toHaveValue("58");
  await page.keyboard.press("Shift+ArrowLeft");
  await expect(editor.getByText("Result: 1251 × 720 px")).toBeVisible();
  await expect(editor.getByRole("status").filter({ hasText: "Crop 1251 by 720 pixels, from 58, 0." })).toHaveCount(1);
  // Undo and redo, by keys, from the photo.
  await page.keyboard.press("Control+z");
  await expect(editor.getByText("Result: 1280 × 720 px")).toBeVisible();
  await page.keyboard.press("Control+y");
  await expect(editor.getByText("Result: 1251 × 720 px")).toBeVisible();

  // An arrow, placed by Enter in the middle of the crop, then moved down.
  await press(page, editor.getByRole("button", { name: "Arrow", exact: true }));
  await canvas.focus();
  await page.keyboard.press("Enter");
  const marks = editor.getByLabel("Mark", { exact: true });
  await expect(marks.locator("option")).toHaveText(["1. Arrow"]);
  // The middle of the crop (57.6 + 1251.2 / 2, 720 / 2), as the head's place.
  await expect(editor.getByRole("status").filter({ hasText: "Arrow placed at 683, 360." })).toHaveCount(1);
  await page.keyboard.press("ArrowDown");
  await expect(editor.getByRole("status").filter({ hasText: "Arrow at 683, 389." })).toHaveCount(1);
  // The step buttons do the same, for a single pointer.
  await press(page, editor.getByRole("button", { name: "Step left" }));
  await expect(editor.getByRole("status").filter({ hasText: "Arrow at 654, 389." })).toHaveCount(1);

  // A text label: typed, then placed by its button.
  await press(page, editor.getByRole("button", { name: "Text", exact: true }));
  await editor.getByLabel("Text label").focus();
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.type("Mole");
  await press(page, editor.getByRole("button", { name: "Place in the middle" }));
  await expect(marks.locator("option")).toHaveText(["1. Arrow", "2. Text “Mole”"]);
  await expect(marks).toHaveValue("1");

  // A box by one click, no drag.
  await press(page, editor.getByRole("button", { name: "Rectangle", exact: true }));
  const box = (await canvas.boundingBox())!;
  await page.mouse.click(box.x + box.width * 0.3, box.y + box.height * 0.3);
  await expect(marks.locator("option")).toHaveText(["1. Arrow", "2. Text “Mole”", "3. Rectangle"]);

  // Undo takes the box and the label away; redo brings the label back.
  await canvas.focus();
  await page.keyboard.press("Control+z");
  await page.keyboard.press("Control+z");
  await expect(marks.locator("option")).toHaveText(["1. Arrow"]);
  await page.keyboard.press("Control+Shift+z");
  await expect(marks.locator("option")).toHaveText(["1. Arrow", "2. Text “Mole”"]);
  // The chosen mark can be removed, by keyboard.
  await marks.selectOption("0");
  await press(page, editor.getByRole("button", { name: "Remove mark" }));
  await expect(marks.locator("option")).toHaveText(["1. Text “Mole”"]);
  await page.keyboard.press("Control+z");
  await expect(marks.locator("option")).toHaveText(["1. Arrow", "2. Text “Mole”"]);
  await screenshot(page, testInfo, "editor-by-keyboard");

  await press(page, editor.getByRole("button", { name: "Save edit" }));
  await expect(editor).toBeHidden({ timeout: 60_000 });
  await expect(page.getByText("Photo 1 · 1251×720")).toBeVisible();
});

test("a zoomed preview pans by its step buttons and by arrow keys, and stops at the photo's edge", async ({ page }, testInfo) => {
  await launch(page, "kp");
  await addBridge(page, 2);
  const options = page.getByRole("listbox", { name: "Photos" }).getByRole("option");
  await options.first().focus();
  await page.keyboard.press("Enter");
  const img = page.getByRole("img", { name: "Photo 1, large" });
  const offset = () =>
    img.evaluate((el) => {
      const m = (el as HTMLElement).style.transform.match(/translate\((-?[\d.]+)px, (-?[\d.]+)px\)/);
      return m ? [Number(m[1]), Number(m[2])] : null;
    });
  // Not zoomed: nothing to pan, and no pad.
  await expect(page.getByRole("group", { name: "Pan the zoomed photo" })).toHaveCount(0);
  for (let i = 0; i < 3; i++) await press(page, page.getByRole("button", { name: "Zoom in" }));
  await expect(page.getByText("195%")).toBeVisible();

  await press(page, page.getByRole("button", { name: "Pan right" }));
  expect(await offset()).toEqual([-80, 0]);
  await press(page, page.getByRole("button", { name: "Pan up" }));
  expect(await offset()).toEqual([-80, 80]);

  // Arrow keys on the zoomed photo pan it, and do not step to photo 2.
  const frame = page.getByRole("group", { name: "Zoomed photo: arrow keys pan" });
  await frame.focus();
  await page.keyboard.press("ArrowLeft");
  expect(await offset()).toEqual([0, 80]);
  await expect(img).toBeVisible();
  // Far enough left, it stops where the photo's edge meets the frame's.
  for (let i = 0; i < 20; i++) await page.keyboard.press("ArrowLeft");
  const width = await img.evaluate((el) => (el as HTMLElement).offsetWidth);
  const [x] = (await offset())!;
  expect(x).toBeCloseTo((width * 0.953125) / 2, 0);
  await screenshot(page, testInfo, "preview-panned");
  // Fit puts it back, and takes the pad away.
  await press(page, page.getByRole("button", { name: "Fit" }));
  expect(await offset()).toEqual([0, 0]);
  await expect(page.getByRole("group", { name: "Pan the zoomed photo" })).toHaveCount(0);
});

test("a whole capture-to-commit by keyboard: pick, select, side, body site, description, commit; filed as chosen", async ({ page }, testInfo) => {
  const note = `keyboard ${Date.now().toString(36)}`;
  await launchFromSandbox(page, "James Sample (ZZZ0024)");
  // The picker, opened by Space on its (visually hidden) file field.
  await page.getByLabel("Add photos").focus();
  const chooser = page.waitForEvent("filechooser");
  await page.keyboard.press("Space");
  await (await chooser).setFiles([{ name: "umang.jpg", mimeType: "image/jpeg", buffer: photo("umang_by_Abhishek_Mudgal.jpg") }]);
  const thumb = page.getByRole("listbox", { name: "Photos" }).getByRole("option");
  await expect(thumb).toHaveCount(1, { timeout: 60_000 });
  await thumb.focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "Details · Photo 1" })).toBeVisible();

  // Side: a radio, by Space.
  await page.getByRole("radio", { name: "Left" }).focus();
  await page.keyboard.press("Space");
  await expect(page.getByRole("radio", { name: "Left" })).toBeChecked();
  // Body site: typed, then the first match is a Tab away.
  await page.getByLabel("Search body sites").focus();
  await page.keyboard.type("forearm");
  await expect(page.getByRole("button", { name: /^Forearm/ })).toBeVisible();
  await page.keyboard.press("Tab");
  await expect(page.getByRole("button", { name: /^Forearm/ })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.getByText("Forearm (SNOMED 14975008)")).toBeVisible();
  await page.getByLabel("Description").focus();
  await page.keyboard.type(note);
  await page.getByRole("button", { name: "Save details" }).focus();
  await page.keyboard.press("Enter");
  await expect(thumb.filter({ hasText: "Ready" })).toHaveCount(1);

  // Commit: Ctrl+Enter opens it; Tab reaches Confirm inside it.
  await page.keyboard.press("Control+Enter");
  const commit = page.getByRole("dialog", { name: "Commit 1 image" });
  await expect(commit).toContainText("James Sample");
  const confirm = commit.getByRole("button", { name: "Confirm and commit" });
  await expect(confirm).toBeEnabled({ timeout: 15_000 });
  for (let i = 0; i < 12 && !(await confirm.evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press("Tab");
  }
  await expect(confirm).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(commit.getByText(/^Committed /)).toHaveCount(1, { timeout: 60_000 });
  await screenshot(page, testInfo, "keyboard-commit");

  // Filed once, for James, with the side and site chosen by keyboard.
  const inbox: any[] = await (await page.request.get("/sandbox/alex/inbox.json")).json();
  const filed = inbox.filter((r) => JSON.stringify(r.resource.note ?? "").includes(note));
  expect(filed).toHaveLength(1);
  expect(filed[0].patientId).toBe("5b1f0c7a9e3d4c2b8a6f1e0d9c8b7a65");
  expect(JSON.stringify(filed[0].resource.bodySite)).toContain("14975008");
  expect(JSON.stringify(filed[0].resource.bodySite)).toContain("7771000");
});
