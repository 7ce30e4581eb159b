// The phone uploads while the GP reviews (issue 31): each photo's bytes go
// as soon as its pipeline is done, into a slot the desktop does not see.
// Nothing reaches the desktop before Send; Send only registers what is
// there; a photo removed at review has its upload cancelled. (A page killed
// during review: mobile-queue.spec.ts. The blob store itself after a
// cancel: tests/it/uploads.rs.)
import { expect, test, type Page } from "@playwright/test";
import { waitForHydration } from "./support/hydration";
import { photo } from "./support/jpeg";
import { desktopImages, desktopSession, phoneLink } from "./support/session";

test.describe.configure({ timeout: 120_000 });

const jpeg = (name: string, file: string) => ({ name, mimeType: "image/jpeg", buffer: photo(file) });
const TWO = [jpeg("bridge.jpg", "Bridge_by_Sander_Klootwijk.jpg"), jpeg("umang.jpg", "umang_by_Abhishek_Mudgal.jpg")];

/** Every PUT of photo bytes the page finishes, in order. */
function putsOf(page: Page): string[] {
  const puts: string[] = [];
  page.on("requestfinished", (r) => {
    if (r.method() === "PUT") puts.push(r.url());
  });
  return puts;
}

async function openLink(page: Page, url: string) {
  await page.goto(url);
  await waitForHydration(page);
  await expect(page.getByRole("heading", { name: "Add photos" })).toBeVisible();
}

test("photos upload while the GP reviews; the desktop gets nothing before Send; Send uploads nothing again", async ({ page, browser, baseURL }) => {
  const desktop = await desktopSession(browser, baseURL!);
  const puts = putsOf(page);
  await openLink(page, await phoneLink(desktop));
  await page.getByLabel("Choose from gallery").setInputFiles(TWO);
  await expect(page.getByRole("heading", { name: "Review" })).toBeVisible();
  // The phone says when the bytes leave it.
  await expect(page.getByText("The desktop gets them only when you tap Send.", { exact: false })).toBeVisible();
  await expect.poll(() => puts.length, { timeout: 60_000 }).toBe(2);

  // Details take the GP a while; the desktop still has nothing.
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Left", exact: true }).click();
  await page.getByRole("button", { name: "Forearm", exact: true }).click();
  await page.getByLabel("Description").fill("Uploaded during review");
  expect(await desktopImages(desktop)).toHaveLength(0);
  await page.getByRole("button", { name: "Next" }).click();
  await page.getByRole("button", { name: "Same as previous" }).click();
  expect(await desktopImages(desktop)).toHaveLength(0);

  const registered: string[] = [];
  page.on("request", (r) => {
    if (r.method() === "POST" && new URL(r.url()).pathname === "/api/medtech/session/images") registered.push(r.url());
  });
  await page.getByRole("button", { name: "Send all" }).click();
  await expect(page.getByRole("heading", { name: "2 photos sent to the desktop" })).toBeVisible({ timeout: 60_000 });
  expect(puts, "no photo uploaded twice").toHaveLength(2);
  expect(registered).toHaveLength(2);
  const images = await desktopImages(desktop);
  expect(images).toHaveLength(2);
  for (const image of images) {
    expect(image.metadata).toEqual({ laterality: "left", bodySite: "14975008", description: "Uploaded during review" });
  }
  await desktop.context.close();
});

test("a photo removed at review: its upload is cancelled, and only the other reaches the desktop", async ({ page, browser, baseURL }) => {
  const desktop = await desktopSession(browser, baseURL!);
  const puts = putsOf(page);
  await openLink(page, await phoneLink(desktop));
  await page.getByLabel("Choose from gallery").setInputFiles(TWO);
  await expect.poll(() => puts.length, { timeout: 60_000 }).toBe(2);

  const cancelled = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/medtech/session/uploads/cancel");
  await page.getByRole("button", { name: "Remove photo 1" }).click();
  const response = await cancelled;
  expect(response.status()).toBe(200);
  const gone = JSON.parse(response.request().postData()!).imageId as string;

  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Skip details and send" }).click();
  await expect(page.getByRole("heading", { name: "1 photo sent to the desktop" })).toBeVisible({ timeout: 60_000 });
  expect(puts).toHaveLength(2);
  const images = await desktopImages(desktop);
  expect(images).toHaveLength(1);
  expect(images[0].imageId).not.toBe(gone);
  await desktop.context.close();
});

test("more photos than the phone's reservations (6): removing some frees places, and every one kept reaches the desktop", async ({ page, browser, baseURL }) => {
  const desktop = await desktopSession(browser, baseURL!);
  const puts = putsOf(page);
  await openLink(page, await phoneLink(desktop));
  const files = ["Bridge_by_Sander_Klootwijk.jpg", "umang_by_Abhishek_Mudgal.jpg", "sunset_by_Aitzol_Berasategi.jpg", "umang_by_Abhishek_Mudgal.jpg"];
  await page.getByLabel("Choose from gallery").setInputFiles(
    Array.from({ length: 8 }, (_, i) => jpeg(`p${i + 1}.jpg`, files[i % files.length])),
  );
  await expect(page.getByRole("img", { name: "Photo 8" })).toBeVisible({ timeout: 60_000 });
  // Six go ahead; the other two wait for a place.
  await expect.poll(() => puts.length, { timeout: 60_000 }).toBe(6);
  // The GP removes five: each upload that went is cancelled.
  const cancels: number[] = [];
  page.on("response", (r) => {
    if (new URL(r.url()).pathname === "/api/medtech/session/uploads/cancel") cancels.push(r.status());
  });
  for (let i = 0; i < 5; i++) await page.getByRole("button", { name: "Remove photo 1" }).click();
  await expect(page.getByText("3 photos ready to send.")).toBeVisible();
  // At least three of the five had gone ahead (six of the eight had).
  await expect.poll(() => cancels.length).toBeGreaterThanOrEqual(3);
  expect(cancels.every((s) => s === 200)).toBe(true);

  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Skip details and send" }).click();
  await expect(page.getByRole("heading", { name: "3 photos sent to the desktop" })).toBeVisible({ timeout: 60_000 });
  expect(await desktopImages(desktop)).toHaveLength(3);
  await desktop.context.close();
});
