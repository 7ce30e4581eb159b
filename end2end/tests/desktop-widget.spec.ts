// The desktop widget through its real UI, against the app with the ALEX sandbox.
import { devices, expect, test, type Page } from "@playwright/test";
import { screenshot, waitForHydration } from "./support/hydration";
import { photo } from "./support/jpeg";
import { reserveOutOfPickOrder, sizesInPickOrder } from "./support/order";
import { desktopImages, sessionHeader } from "./support/session";

// Long tests (real photos through the pipeline). The fault test uses its own
// patient and scopes its fault to that patient's filings, so specs running in
// parallel elsewhere cannot consume it.
test.describe.configure({ timeout: 120_000, mode: "default" });

const jpeg = (name: string, file: string) => ({ name, mimeType: "image/jpeg", buffer: photo(file) });

/** Launches a patient through the sandbox's Evolution launcher. */
async function launch(page: Page, patient = { name: "Aroha Testpatient", nhi: "ZZZ0016" }) {
  await page.goto("/sandbox/alex");
  await page.getByLabel("Patient").selectOption({ label: `${patient.name} (${patient.nhi})` });
  await page.getByRole("button", { name: "Open in Evolution" }).click();
  await expect(page).toHaveURL(/\/medtech-images\?session=[0-9a-f]{16}$/);
  await waitForHydration(page);
  await expect(page.getByRole("region", { name: "Patient" })).toContainText(`${patient.name} · NHI ${patient.nhi}`);
  await expect(page.getByRole("status").filter({ hasText: "Live" })).toBeVisible();
}

/** Aroha's filings only: other specs, in parallel, file for other patients. */
const aroha = (r: any) => r.patientId === "14e52e16edb7a435bfa05e307afd008b";

const strip = (page: Page) => page.getByRole("listbox", { name: "Photos" }).getByRole("option");

async function inbox(page: Page, patientFilter?: (r: any) => boolean) {
  const all = await (await page.request.get("/sandbox/alex/inbox.json")).json();
  return patientFilter ? all.filter(patientFilter) : all;
}

test("capture by picker, drag-and-drop and webcam; details applied to a selection; commit files them", async ({ page }, testInfo) => {
  await launch(page);
  await screenshot(page, testInfo, "desktop-1-empty");

  // Three by the picker.
  await page.getByLabel("Add photos").setInputFiles([
    jpeg("bridge.jpg", "Bridge_by_Sander_Klootwijk.jpg"),
    jpeg("umang.jpg", "umang_by_Abhishek_Mudgal.jpg"),
    jpeg("picos.jpg", "picosdeeuropa_by_Aitzol_Berasategi.jpg"),
  ]);
  // One dropped onto the page.
  const dropped = photo("sunset_by_Aitzol_Berasategi.jpg").toString("base64");
  await page.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], "dropped.jpg", { type: "image/jpeg" }));
    const desk = document.querySelector(".desk")!;
    desk.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
    desk.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
  }, dropped);
  await expect(page.getByRole("progressbar", { name: "Upload progress" }).first()).toBeVisible();
  await screenshot(page, testInfo, "desktop-2-uploading");
  await expect(strip(page)).toHaveCount(4, { timeout: 60_000 });

  // One from the webcam (Chromium's fake camera).
  await page.getByRole("button", { name: "Webcam" }).click();
  const dialog = page.getByRole("dialog", { name: "Webcam" });
  await expect(dialog.getByLabel("Camera preview")).toBeVisible();
  await page.waitForFunction(() => (document.querySelector(".camera video") as HTMLVideoElement)?.videoWidth > 0);
  await dialog.getByRole("button", { name: "Capture" }).click();
  await expect(dialog.getByRole("img", { name: "Captured photo" })).toBeVisible();
  await screenshot(page, testInfo, "desktop-3-webcam");
  await dialog.getByRole("button", { name: "Use photo" }).click();
  await expect(strip(page)).toHaveCount(5, { timeout: 60_000 });
  await expect(strip(page).filter({ hasText: "Needs details" })).toHaveCount(5);

  // A reload restores the session from the server.
  await page.reload();
  await waitForHydration(page);
  await expect(strip(page)).toHaveCount(5);

  // Details for photos 1 and 2 at once.
  await strip(page).nth(0).click();
  await strip(page).nth(1).click({ modifiers: ["Control"] });
  await expect(page.getByRole("heading", { name: "Details · 2 photos selected" })).toBeVisible();
  await page.getByLabel("Left").check();
  await page.getByPlaceholder("Search body sites").fill("forearm");
  await page.getByRole("button", { name: /^Forearm/ }).click();
  await page.getByLabel("Description").fill("Eczema flare, both sites");
  await page.getByRole("button", { name: "Apply to 2 selected" }).click();
  await expect(strip(page).filter({ hasText: "Ready" })).toHaveCount(2, { timeout: 30_000 });
  // The rest get a description each, so all five can be filed.
  for (const i of [2, 3, 4]) {
    await strip(page).nth(i).click();
    await page.getByLabel("Description").fill(`Overview ${i + 1}`);
    await page.getByRole("button", { name: "Save details" }).click();
  }
  await expect(strip(page).filter({ hasText: "Ready" })).toHaveCount(5);
  await screenshot(page, testInfo, "desktop-4-details");

  // Zoom the preview.
  await page.getByRole("button", { name: "Zoom in" }).click();
  await expect(page.getByText("125%")).toBeVisible();

  // Commit: the dialog repeats the patient and the target. Other specs file
  // for Aroha meanwhile: this session's filings are told by their photos' ids.
  const mine = (await desktopImages({ context: page.context(), page })).map((i) => i.imageId);
  expect(mine).toHaveLength(5);
  await page.getByRole("button", { name: "Commit 5 images" }).click();
  const commit = page.getByRole("dialog", { name: "Commit 5 images" });
  await expect(commit.getByRole("region", { name: "Patient" })).toContainText("Aroha Testpatient · NHI ZZZ0016");
  await expect(commit).toContainText("Clinical images (Media)");
  await screenshot(page, testInfo, "desktop-5-commit-dialog");
  await commit.getByRole("button", { name: "Confirm and commit" }).click();
  await expect(commit.getByText(/^Committed /)).toHaveCount(5, { timeout: 60_000 });
  await expect(commit.getByText("Reference for support")).toBeVisible();
  await screenshot(page, testInfo, "desktop-6-committed");
  await commit.getByRole("button", { name: "Close" }).click();
  await expect(strip(page).filter({ hasText: "Committed" })).toHaveCount(5);

  const filed = (await inbox(page, aroha)).filter((r: any) => mine.includes(r.resource.identifier?.[0]?.value));
  expect(filed).toHaveLength(5);
  const forearm = filed.filter((r: any) => JSON.stringify(r.resource.bodySite ?? {}).includes("14975008"));
  expect(forearm).toHaveLength(2);
  for (const r of forearm) expect(JSON.stringify(r.resource.note)).toContain("Eczema flare, both sites");
  // Committed photos are locked.
  await strip(page).nth(0).click();
  await expect(page.getByText("Committed photos are locked.")).toBeVisible();
  await expect(page.getByRole("button", { name: "Delete", exact: true })).toBeDisabled();
  await expect(page.getByRole("button", { name: "Consent withdrawn: delete" })).toBeDisabled();
});

test("a phone uploads through the QR link; the photo appears on the desktop without a reload", async ({ page, browser, baseURL }, testInfo) => {
  await launch(page);
  await page.keyboard.press("q");
  const qr = page.getByRole("region", { name: "Phone" });
  await expect(qr.getByRole("img", { name: "QR code for the phone link" })).toBeVisible();
  await expect(qr.getByText(/Expires in \d+:\d\d/)).toBeVisible();
  const url = (await qr.locator("code").textContent())!;
  await screenshot(page, testInfo, "desktop-qr");

  const phone = await browser.newContext({ ...devices["Pixel 7"], baseURL });
  const p = await phone.newPage();
  await expect(qr.getByText("No phone has joined yet.")).toBeVisible();
  await p.goto(url);
  await waitForHydration(p);
  await expect(qr.getByText("1 phone joined.")).toBeVisible();
  await p.reload(); // a reload is the same phone
  await waitForHydration(p);
  await expect(p.getByRole("heading", { name: "Add photos" })).toBeVisible();
  await p.getByLabel("Choose from gallery").setInputFiles([jpeg("phone.jpg", "umang_by_Abhishek_Mudgal.jpg")]);
  await p.getByRole("button", { name: "Continue" }).click();
  await p.getByRole("button", { name: "Left", exact: true }).click();
  await p.getByRole("button", { name: "Send all" }).click();

  await expect(strip(page)).toHaveCount(1, { timeout: 60_000 });
  await expect(page.getByRole("status").filter({ hasText: "New photo from the phone." })).toBeVisible();
  await expect(qr.getByText("1 phone joined.")).toBeVisible();
  // Regenerating cancels the old link: the phone is told to scan the new code.
  await qr.getByRole("button", { name: "Regenerate" }).click();
  await expect(qr.getByText("No phone has joined yet.")).toBeVisible();
  await p.reload();
  await expect(p.getByRole("heading", { name: "This link was replaced by a newer QR code." })).toBeVisible();
  await phone.close();
});

test("S3 unreachable for 10 s: the desktop and the phone say they are retrying, then both photos arrive once", async ({ page, browser, baseURL }, testInfo) => {
  await launch(page);
  await page.keyboard.press("q");
  const url = (await page.getByRole("region", { name: "Phone" }).locator("code").textContent())!;
  await page.keyboard.press("Escape");
  const phone = await browser.newContext({ ...devices["Pixel 7"], baseURL });
  const p = await phone.newPage();
  await p.goto(url);
  await waitForHydration(p);

  // From now on, for 15 s, the store (S3, another origin) cannot be reached
  // from either browser: every upload to it is refused at the connection.
  // (The phone uploads as soon as a photo is ready, during review.)
  // The server side of an S3 outage is the cluster test's (tests/it/cluster.rs).
  const downUntil = Date.now() + 15_000;
  let refused = 0;
  for (const context of [page.context(), phone]) {
    await context.route(
      (u) => u.origin !== new URL(baseURL!).origin,
      async (route) => {
        if (route.request().method() === "PUT" && Date.now() < downUntil) {
          refused++;
          await route.abort("connectionrefused");
          return;
        }
        await route.continue();
      },
    );
  }
  await p.getByLabel("Choose from gallery").setInputFiles([jpeg("phone.jpg", "umang_by_Abhishek_Mudgal.jpg")]);
  await p.getByRole("button", { name: "Continue" }).click();
  await page.getByLabel("Add photos").setInputFiles([jpeg("desk.jpg", "Bridge_by_Sander_Klootwijk.jpg")]);
  await p.getByRole("button", { name: "Send all" }).click();
  await expect(page.getByRole("status").filter({ hasText: /Connection problem\. Trying again in \d+ s/ })).toBeVisible({ timeout: 30_000 });
  await expect(p.getByText(/Connection problem\. Trying again in \d+ s/)).toBeVisible({ timeout: 30_000 });
  await screenshot(page, testInfo, "desktop-s3-retrying");
  await screenshot(p, testInfo, "phone-s3-retrying");
  expect(Date.now()).toBeLessThan(downUntil);

  // S3 is back: both finish on their own, with no reload and no tap.
  await expect(p.getByRole("heading", { name: "1 photo sent to the desktop" })).toBeVisible({ timeout: 60_000 });
  await expect(strip(page)).toHaveCount(2, { timeout: 60_000 });
  await expect(page.getByRole("progressbar", { name: "Upload progress" })).toHaveCount(0);
  expect(refused).toBeGreaterThanOrEqual(2);
  const listed = await (await page.request.get("/api/medtech/session/images", { headers: sessionHeader(page) })).json();
  expect(listed.map((i: any) => i.source).sort()).toEqual(["desktop", "mobile"]);
  await phone.close();
});

test("a commit with an ALEX fault gives a partial result; Retry files the rest, with no duplicates", async ({ page }, testInfo) => {
  const james = "5b1f0c7a9e3d4c2b8a6f1e0d9c8b7a65";
  const hers = (r: any) => r.patientId === james;
  await launch(page, { name: "James Sample", nhi: "ZZZ0024" });
  await page.getByLabel("Add photos").setInputFiles([
    jpeg("a.jpg", "Bridge_by_Sander_Klootwijk.jpg"),
    jpeg("b.jpg", "umang_by_Abhishek_Mudgal.jpg"),
  ]);
  await expect(strip(page)).toHaveCount(2, { timeout: 60_000 });
  for (const i of [0, 1]) {
    await strip(page).nth(i).click();
    await page.getByLabel("Description").fill(`Wound day ${i + 1}`);
    await page.getByRole("button", { name: "Save details" }).click();
  }
  await expect(strip(page).filter({ hasText: "Ready" })).toHaveCount(2, { timeout: 30_000 });
  // This session's filings only: other specs file for James meanwhile.
  const ours = async () => {
    const ids = new Set((await desktopImages({ context: page.context(), page })).map((i) => i.imageId));
    return (await inbox(page, hers)).filter((r: any) => ids.has(r.resource.identifier?.[0]?.value)).length;
  };
  expect(await ours()).toBe(0);
  // The next filing for this patient is refused (not retryable).
  const fault = await page.request.post("/sandbox/alex/faults", {
    data: { count: 1, status: 422, patientId: james, path: "/Media" },
  });
  expect(fault.ok()).toBe(true);

  await page.getByRole("button", { name: "Commit 2 images" }).click();
  const commit = page.getByRole("dialog", { name: "Commit 2 images" });
  await commit.getByRole("button", { name: "Confirm and commit" }).click();
  await expect(commit.getByText("Failed", { exact: true })).toHaveCount(1, { timeout: 60_000 });
  await expect(commit.getByText(/^Committed /)).toHaveCount(1);
  await screenshot(page, testInfo, "desktop-partial-commit");
  await commit.getByRole("button", { name: "Retry" }).click();
  await expect(commit.getByText(/^Committed /)).toHaveCount(2, { timeout: 60_000 });
  expect(await ours()).toBe(2);
});

test("photos picked together list in pick order, whichever upload finished first", async ({ page, context }) => {
  await launch(page);
  const seen = await reserveOutOfPickOrder(page);
  await page.getByLabel("Add photos").setInputFiles([
    jpeg("a.jpg", "Bridge_by_Sander_Klootwijk.jpg"),
    jpeg("b.jpg", "umang_by_Abhishek_Mudgal.jpg"),
    jpeg("c.jpg", "sunset_by_Aitzol_Berasategi.jpg"),
  ]);
  await expect(strip(page)).toHaveCount(3, { timeout: 60_000 });
  const sizes = sizesInPickOrder(seen);
  const images = await desktopImages({ context, page });
  expect(images.map((i) => i.bytes)).toEqual(sizes);
  // The strip, built as the uploads finished, settles in that order too,
  // numbered by place (each preview's address names its image).
  const shown = strip(page).locator("img");
  for (const [n, image] of images.entries()) {
    await expect(shown.nth(n)).toHaveAttribute("src", new RegExp(image.imageId));
    await expect(shown.nth(n)).toHaveAttribute("alt", `Photo ${n + 1}`);
  }
});

test("keyboard only: select, open the commit dialog and confirm without the mouse", async ({ page }) => {
  await launch(page);
  await page.getByLabel("Add photos").setInputFiles([jpeg("a.jpg", "umang_by_Abhishek_Mudgal.jpg")]);
  await expect(strip(page)).toHaveCount(1, { timeout: 60_000 });
  await page.getByLabel("Description").focus();
  await page.keyboard.type("Ulcer, left heel");
  // The counter is not focusable: next come the consent's three choices and
  // its withdrawal, then Save.
  for (const next of [/^For/, /^Given by/, /^How/]) {
    await page.keyboard.press("Tab");
    await expect(page.getByRole("combobox", { name: next })).toBeFocused();
  }
  await page.keyboard.press("Tab");
  await expect(page.getByRole("button", { name: "Consent withdrawn: delete" })).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(page.getByRole("button", { name: "Save details" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(strip(page).filter({ hasText: "Ready" })).toHaveCount(1);
  await page.locator("body").click({ position: { x: 1, y: 1 } }).catch(() => {});
  await page.keyboard.press("?");
  await expect(page.getByRole("dialog", { name: "Keyboard shortcuts" })).toBeVisible();
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+Enter");
  const commit = page.getByRole("dialog", { name: "Commit 1 image" });
  await expect(commit).toBeVisible();
  // Focus starts in the dialog; Tab to the confirm button and press it.
  await commit.getByRole("button", { name: "Confirm and commit" }).focus();
  await page.keyboard.press("Enter");
  await expect(commit.getByText(/^Committed /)).toHaveCount(1, { timeout: 60_000 });
});

test("edit in a narrow window: a crop lands where it is drawn, and Ctrl+Z and Ctrl+Y undo and redo", async ({ page }) => {
  await page.setViewportSize({ width: 640, height: 900 });
  await launch(page);
  await page.getByLabel("Add photos").setInputFiles([jpeg("bridge.jpg", "Bridge_by_Sander_Klootwijk.jpg")]);
  await expect(strip(page)).toHaveCount(1, { timeout: 60_000 });
  await page.getByRole("button", { name: "Edit" }).first().click();
  const editor = page.getByRole("dialog", { name: "Edit photo 1" });
  await expect(editor.getByText("Result: 2560 × 1440 px")).toBeVisible();
  const canvas = editor.getByLabel("Photo being edited");
  const box = (await canvas.boundingBox())!;
  // Drawn 900 px wide, shown narrower: positions are read at the shown size.
  expect(box.width).toBeLessThan(640);
  await page.mouse.move(box.x + box.width * 0.25, box.y + box.height * 0.25);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.75, box.y + box.height * 0.75, { steps: 5 });
  await page.mouse.up();
  const result = async () => (await editor.getByText(/^Result: /).textContent())!.match(/(\d+) × (\d+)/)!.slice(1).map(Number);
  const [w, h] = await result();
  expect(Math.abs(w - 1280)).toBeLessThan(40);
  expect(Math.abs(h - 720)).toBeLessThan(40);

  await page.keyboard.press("Control+z");
  await expect(editor.getByText("Result: 2560 × 1440 px")).toBeVisible();
  await page.keyboard.press("Control+y");
  await expect(editor.getByText(`Result: ${w} × ${h} px`)).toBeVisible();
  await page.keyboard.press("Control+z");
  await page.keyboard.press("Control+Shift+z");
  await expect(editor.getByText(`Result: ${w} × ${h} px`)).toBeVisible();
  await expect(editor.getByRole("button", { name: "Redo" })).toBeDisabled();
});

test("edit: rotate, crop and annotate; the committed pixels have the edited size", async ({ page }, testInfo) => {
  await launch(page);
  // Bridge: 4352×2448, so 2560×1440 after the pipeline (landscape).
  await page.getByLabel("Add photos").setInputFiles([jpeg("bridge.jpg", "Bridge_by_Sander_Klootwijk.jpg")]);
  await expect(strip(page)).toHaveCount(1, { timeout: 60_000 });
  await expect(page.getByText("Photo 1 · 2560×1440")).toBeVisible();

  await page.keyboard.press("e");
  const editor = page.getByRole("dialog", { name: "Edit photo 1" });
  await expect(editor).toBeVisible();
  await expect(editor.getByText("Result: 2560 × 1440 px")).toBeVisible();
  await editor.getByRole("button", { name: "Rotate right" }).click();
  await expect(editor.getByText("Result: 1440 × 2560 px")).toBeVisible();

  const canvas = editor.getByLabel("Photo being edited");
  const box = (await canvas.boundingBox())!;
  const drag = async (x0: number, y0: number, x1: number, y1: number) => {
    await page.mouse.move(box.x + box.width * x0, box.y + box.height * y0);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * x1, box.y + box.height * y1, { steps: 5 });
    await page.mouse.up();
  };
  // Crop (the default tool) to the middle, then an arrow and a rectangle.
  await drag(0.1, 0.1, 0.9, 0.6);
  const result = (await editor.getByText(/^Result: /).textContent())!;
  const [, w, h] = result.match(/Result: (\d+) × (\d+) px/)!.map(Number);
  expect(w).toBeLessThan(1440);
  expect(h).toBeLessThan(2560);
  await editor.getByRole("button", { name: "Arrow" }).click();
  await drag(0.2, 0.2, 0.4, 0.4);
  await editor.getByRole("button", { name: "Rectangle" }).click();
  await drag(0.5, 0.3, 0.7, 0.5);
  await editor.getByRole("button", { name: "Undo" }).click();
  await editor.getByRole("button", { name: "Redo" }).click();
  await screenshot(page, testInfo, "desktop-editor");
  await editor.getByRole("button", { name: "Save edit" }).click();
  await expect(editor).toBeHidden({ timeout: 60_000 });
  await expect(strip(page)).toHaveCount(1);
  await expect(page.getByText(`Photo 1 · ${w}×${h}`)).toBeVisible();
  await expect(page.getByRole("button", { name: "Revert to original" })).toBeVisible();

  await page.getByLabel("Description").fill("Edited: rotated, cropped, marked");
  await page.getByRole("button", { name: "Save details" }).click();
  await expect(strip(page).filter({ hasText: "Ready" })).toHaveCount(1);
  const before = (await inbox(page, aroha)).length;
  await page.getByRole("button", { name: "Commit 1 image" }).click();
  const commit = page.getByRole("dialog", { name: "Commit 1 image" });
  await commit.getByRole("button", { name: "Confirm and commit" }).click();
  await expect(commit.getByText(/^Committed /)).toHaveCount(1, { timeout: 60_000 });
  const filed = (await inbox(page, aroha)).slice(before);
  expect(filed).toHaveLength(1);
  expect([filed[0].resource.width, filed[0].resource.height]).toEqual([w, h]);
});

test("paste adds a photo; a second tab stays in step; leaving with uncommitted photos asks first", async ({ page, context }) => {
  await launch(page);
  const second = await context.newPage();
  await second.goto(page.url());
  await waitForHydration(second);
  await expect(second.getByRole("status").filter({ hasText: "Live" })).toBeVisible();

  // Paste an image from the clipboard.
  const pasted = photo("umang_by_Abhishek_Mudgal.jpg").toString("base64");
  await page.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], "pasted.jpg", { type: "image/jpeg" }));
    document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  }, pasted);
  await expect(strip(page)).toHaveCount(1, { timeout: 60_000 });
  // The other tab sees it through the event stream, and a deletion too.
  await expect(strip(second)).toHaveCount(1);

  // Leaving with an uncommitted photo asks first.
  let asked = false;
  page.on("dialog", async (d) => {
    asked = d.type() === "beforeunload";
    await d.dismiss();
  });
  await page.close({ runBeforeUnload: true });
  await expect.poll(() => asked).toBe(true);

  await strip(second).first().click();
  await second.keyboard.press("Delete");
  await second.getByRole("dialog", { name: "Delete photo 1?" }).getByRole("button", { name: "Delete" }).click();
  await expect(strip(second)).toHaveCount(0);
});
