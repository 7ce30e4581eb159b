// Consent with every photo: set on the phone (carried forward across the
// batch), changed on the desktop, and read back from the sandbox's inbox in
// the words the record carries. The rule itself (a photo without consent is
// not filed) is proven over HTTP in tests/it/consent.rs.
import { expect, test } from "@playwright/test";
import { screenshot, waitForHydration } from "./support/hydration";
import { photo } from "./support/jpeg";
import { desktopImages, launchFromSandbox, phoneLink } from "./support/session";

test.describe.configure({ timeout: 120_000 });

const jpeg = (name: string, file: string) => ({ name, mimeType: "image/jpeg", buffer: photo(file) });
const TEACHING = "Consent: clinical record and de-identified teaching; written; given by a parent or guardian";
const RECORD_ONLY = "Consent: clinical record only; verbal; given by the patient";

test("consent set on the phone and on the desktop reaches the patient's record", async ({ page, browser, baseURL }, testInfo) => {
  const context = await browser.newContext({ baseURL, viewport: { width: 1366, height: 900 } });
  const desk = await context.newPage();
  await launchFromSandbox(desk, "Mere Example (ZZZ0032)");
  const url = await phoneLink({ context, page: desk });

  // The phone: two photos; consent on the first is carried to the second.
  await page.goto(url);
  await waitForHydration(page);
  await expect(page.getByRole("heading", { name: "Add photos" })).toBeVisible();
  await page.getByLabel("Choose from gallery").setInputFiles([
    jpeg("bridge.jpg", "Bridge_by_Sander_Klootwijk.jpg"),
    jpeg("umang.jpg", "umang_by_Abhishek_Mudgal.jpg"),
  ]);
  await expect(page.getByRole("heading", { name: "Review" })).toBeVisible();
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByText("Photo 1 of 2")).toBeVisible();
  await page.getByRole("button", { name: "Forearm", exact: true }).click();
  await page.getByRole("button", { name: "Record and de-identified teaching" }).click();
  await page.getByRole("button", { name: "A parent or guardian" }).click();
  await expect(page.getByText("No consent recorded yet.")).toBeVisible();
  await page.getByRole("button", { name: "Written", exact: true }).click();
  await expect(page.getByText(TEACHING)).toBeVisible();
  await screenshot(page, testInfo, "consent-phone");
  await page.getByRole("button", { name: "Next" }).click();
  await expect(page.getByText("Photo 2 of 2")).toBeVisible();
  await expect(page.getByText(TEACHING)).toBeVisible();
  await expect(page.getByRole("button", { name: "Written", exact: true })).toHaveAttribute("aria-pressed", "true");
  await page.getByRole("button", { name: "Forearm", exact: true }).click();
  await page.getByRole("button", { name: "Send all" }).click();
  await expect(page.getByRole("heading", { name: "2 photos sent to the desktop" })).toBeVisible({ timeout: 60_000 });

  // The desktop: both arrive with their consent; the second is changed.
  const strip = desk.getByRole("listbox", { name: "Photos" }).getByRole("option");
  await expect(strip).toHaveCount(2, { timeout: 30_000 });
  await strip.nth(0).click();
  await expect(desk.getByText(TEACHING)).toBeVisible();
  await strip.nth(1).click();
  await expect(desk.getByText(TEACHING)).toBeVisible();
  await desk.getByRole("combobox", { name: /^For\b/ }).selectOption({ label: "Clinical record only" });
  await desk.getByRole("combobox", { name: /^Given by/ }).selectOption({ label: "The patient" });
  // Every part chosen at each step: the consent reads as it now stands.
  await expect(desk.getByText("Consent: clinical record only; written; given by the patient")).toBeVisible();
  await desk.getByRole("combobox", { name: /^How/ }).selectOption({ label: "Verbal" });
  await expect(desk.getByText(RECORD_ONLY)).toBeVisible();
  await screenshot(desk, testInfo, "consent-desktop");
  await desk.getByRole("button", { name: "Save details" }).click();
  await expect
    .poll(async () => (await desktopImages({ context, page: desk })).map((i: any) => i.metadata.consent?.how))
    .toEqual(["written", "verbal"]);

  // Filed: each photo's record carries its consent in words.
  const images = await desktopImages({ context, page: desk });
  await desk.getByRole("button", { name: "Commit 2 images" }).click();
  const commit = desk.getByRole("dialog", { name: "Commit 2 images" });
  await expect(commit.getByRole("region", { name: "Patient" })).toContainText("Mere Example");
  await commit.getByRole("button", { name: "Confirm and commit" }).click();
  await expect(commit.getByText(/^Committed /)).toHaveCount(2, { timeout: 60_000 });
  const inbox = await (await desk.request.get("/sandbox/alex/inbox.json")).json();
  const noteOf = (id: string) => {
    const filed = inbox.find((r: any) => r.resource.identifier?.[0]?.value === id);
    return (filed?.resource.note ?? []).map((n: any) => n.text);
  };
  expect(noteOf(images[0].imageId)).toContain(TEACHING);
  expect(noteOf(images[1].imageId)).toContain(RECORD_ONLY);
  await context.close();
});
