// The phone's unsent photos survive the page: kept in IndexedDB (processed
// bytes only), resumed when the same link is reopened, deleted as each is
// registered, on "Discard", and when the link is dead. A persistent browser
// profile stands in for the phone, so closing the context kills the page
// while its storage stays, as when the OS evicts a tab.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, expect, test, type Browser, type BrowserContext, type Page } from "@playwright/test";
import { waitForHydration } from "./support/hydration";
import { photo } from "./support/jpeg";
import { keptPhotos } from "./support/queue";
import { desktopImages, desktopSession, phoneLink, type Desktop } from "./support/session";

test.describe.configure({ timeout: 120_000 });

const jpeg = (name: string, file: string) => ({ name, mimeType: "image/jpeg", buffer: photo(file) });
const blobPut = (u: URL) => !u.pathname.startsWith("/api/") || u.pathname.startsWith("/api/medtech/blobs/");

let profile: string;
test.beforeEach(() => {
  profile = mkdtempSync(join(tmpdir(), "ci-phone-"));
});
test.afterEach(() => rmSync(profile, { recursive: true, force: true }));

/** The phone: a browser profile that outlives its pages. */
async function phone(): Promise<{ context: BrowserContext; page: Page }> {
  const use = test.info().project.use;
  const context = await chromium.launchPersistentContext(profile, {
    ...use,
    baseURL: use.baseURL,
    executablePath: use.launchOptions?.executablePath,
    args: use.launchOptions?.args,
  } as any);
  return { context, page: context.pages()[0] ?? (await context.newPage()) };
}

async function openLink(page: Page, url: string) {
  await page.goto(url);
  await waitForHydration(page);
}

async function pickThree(page: Page) {
  await expect(page.getByRole("heading", { name: "Add photos" })).toBeVisible();
  await page.getByLabel("Choose from gallery").setInputFiles([
    jpeg("a.jpg", "Bridge_by_Sander_Klootwijk.jpg"),
    jpeg("b.jpg", "umang_by_Abhishek_Mudgal.jpg"),
    jpeg("c.jpg", "sunset_by_Aitzol_Berasategi.jpg"),
  ]);
  await expect(page.getByRole("img", { name: "Photo 3" })).toBeVisible({ timeout: 60_000 });
  await expect.poll(async () => (await keptPhotos(page)).bytes.length, { timeout: 30_000 }).toBe(3);
}

/**
 * A desktop session, its phone link, and a phone that has picked three
 * photos (all kept). `before` runs on the page before the pick: the phone
 * uploads as soon as each photo is ready, so what a test does to uploads
 * must be in place by then.
 */
async function threePicked(browser: Browser, baseURL: string, before?: (page: Page) => Promise<void>) {
  const desktop = await desktopSession(browser, baseURL);
  const url = await phoneLink(desktop);
  const first = await phone();
  await openLink(first.page, url);
  await before?.(first.page);
  await pickThree(first.page);
  return { desktop, url, first };
}

/** Closes the phone; the desktop then holds exactly `images` photos. */
async function finish(phone: { context: BrowserContext }, desktop: Desktop, images: number) {
  await phone.context.close();
  expect(await desktopImages(desktop)).toHaveLength(images);
  await desktop.context.close();
}

test("a page killed mid-batch: reopening the link sends exactly the unsent photos, then nothing is kept", async ({ browser, baseURL }) => {
  // The first upload goes through; the other two (the phone uploads on two
  // lanes) hang mid-PUT; then the GP sends, and the page dies.
  let puts = 0;
  const { desktop, url, first } = await threePicked(browser, baseURL!, (page) =>
    page.route(blobPut, async (route) => {
      if (route.request().method() !== "PUT") return route.continue();
      if (++puts === 1) return route.continue();
      await new Promise(() => {}); // never answered
    }),
  );
  // What is kept is the pipeline's output, never the photo as picked.
  const kept = await keptPhotos(first.page);
  for (const k of kept.bytes) {
    expect(k.jpeg).toBe(true);
    expect(k.exif).toBe(false);
    expect(k.bytes).toBeLessThanOrEqual(1_000_000);
  }
  expect(kept.entries.map((e) => e.key).sort()).toEqual(kept.bytes.map((k) => k.key).sort());

  await first.page.getByRole("button", { name: "Continue" }).click();
  await first.page.getByRole("button", { name: "Skip details and send" }).click();
  await expect.poll(async () => (await desktopImages(desktop)).length, { timeout: 60_000 }).toBe(1);
  await expect.poll(() => puts, { timeout: 30_000 }).toBe(3);
  // The registered photo was deleted at once; the two unsent ones are kept.
  await expect.poll(async () => (await keptPhotos(first.page)).bytes.length).toBe(2);
  await first.context.close();

  // Reopened: sending resumes by itself, with no duplicates.
  const second = await phone();
  await openLink(second.page, url);
  await expect(second.page.getByRole("heading", { name: "2 photos sent to the desktop" })).toBeVisible({ timeout: 60_000 });
  await expect(second.page.getByText("Nothing is kept by this app on the phone.")).toBeVisible();
  const images = await desktopImages(desktop);
  expect(images).toHaveLength(3);
  expect(new Set(images.map((i) => i.bytes)).size).toBe(3);
  expect(await keptPhotos(second.page)).toEqual({ bytes: [], entries: [] });

  // And the same link opened again finds nothing left to send.
  await openLink(second.page, url);
  await expect(second.page.getByRole("heading", { name: "Add photos" })).toBeVisible();
  await expect(second.page.getByText("3 photos sent to the desktop.")).toBeVisible();
  await finish(second, desktop, 3);
});

test("a photo sent only after the page died keeps its place before the ones sent meanwhile", async ({ browser, baseURL }) => {
  // The first-picked photo never gets its upload slot (so no ticket is
  // kept); the other two are sent, and the page dies. Slot requests wait
  // until the test knows which photo was picked first.
  let decide: (pickedAt: number) => void = () => {};
  const firstPicked = new Promise<number>((resolve) => (decide = resolve));
  const { desktop, url, first } = await threePicked(browser, baseURL!, (page) =>
    page.route("**/api/medtech/session/presigned-url", async (route) => {
      if (route.request().postDataJSON().pickedAt === (await firstPicked)) return new Promise(() => {});
      await route.continue();
    }),
  );
  const kept = await keptPhotos(first.page);
  const size = new Map(kept.bytes.map((b) => [b.key, b.bytes]));
  const inPickOrder = [...kept.entries].sort((a, b) => a.pickedAt! - b.pickedAt!);
  expect(inPickOrder.map((e) => typeof e.pickedAt)).toEqual(["number", "number", "number"]);

  decide(inPickOrder[0].pickedAt!);
  await first.page.getByRole("button", { name: "Continue" }).click();
  await first.page.getByRole("button", { name: "Skip details and send" }).click();
  await expect.poll(async () => (await desktopImages(desktop)).length, { timeout: 60_000 }).toBe(2);
  await expect.poll(async () => (await keptPhotos(first.page)).entries.map((e) => e.key)).toEqual([inPickOrder[0].key]);
  await first.context.close();

  // Reopened, it goes last but is listed first: its pick time was kept.
  const second = await phone();
  await openLink(second.page, url);
  await expect(second.page.getByRole("heading", { name: "1 photo sent to the desktop" })).toBeVisible({ timeout: 60_000 });
  const images = await desktopImages(desktop);
  expect(images.map((i) => i.bytes)).toEqual(inPickOrder.map((e) => size.get(e.key)));
  await finish(second, desktop, 3);
});

test("photos kept from before come back for review, with what the GP set; Discard deletes them", async ({ browser, baseURL }) => {
  const { desktop, url, first } = await threePicked(browser, baseURL!);
  await first.page.getByRole("button", { name: "Continue" }).click();
  await first.page.getByRole("button", { name: "Left", exact: true }).click();
  await first.page.getByRole("button", { name: "Forearm", exact: true }).click();
  // What the GP sets is kept as they set it.
  await expect
    .poll(async () => (await keptPhotos(first.page)).entries.filter((e) => e.metadata.bodySite === "14975008").length)
    .toBe(1);
  await first.context.close();

  const second = await phone();
  await openLink(second.page, url);
  await expect(second.page.getByRole("heading", { name: "Review" })).toBeVisible();
  await expect(second.page.getByText("3 photos from before were not sent yet.")).toBeVisible();
  await expect(second.page.getByRole("img", { name: "Photo 3" })).toBeVisible();
  await second.page.getByRole("button", { name: "Continue" }).click();
  await expect(second.page.getByText("Photo 1 of 3")).toBeVisible();
  await expect(second.page.getByRole("button", { name: "Left", exact: true })).toHaveAttribute("aria-pressed", "true");
  await expect(second.page.getByText("Chosen: Forearm")).toBeVisible();

  // Reopened again, they are back on review: discard the batch.
  await openLink(second.page, url);
  await expect(second.page.getByRole("heading", { name: "Review" })).toBeVisible();
  await second.page.getByRole("button", { name: "Discard all" }).click();
  await expect(second.page.getByText("Discard these 3 photos? They have not been sent.")).toBeVisible();
  await second.page.getByRole("button", { name: "Discard", exact: true }).click();
  await expect(second.page.getByRole("heading", { name: "Add photos" })).toBeVisible();
  await expect.poll(async () => keptPhotos(second.page)).toEqual({ bytes: [], entries: [] });
  await finish(second, desktop, 0);
});

test("a page killed during review: reopened, its photos are recognised as uploaded and Send uploads nothing again", async ({ browser, baseURL }) => {
  const { desktop, url, first } = await threePicked(browser, baseURL!);
  // Uploaded while the GP reviews, and kept as uploaded.
  await expect
    .poll(async () => (await keptPhotos(first.page)).entries.filter((e) => e.uploaded).length, { timeout: 60_000 })
    .toBe(3);
  const ids = (await keptPhotos(first.page)).entries.map((e) => e.imageId).sort();
  expect(await desktopImages(desktop)).toHaveLength(0);
  await first.context.close();

  const second = await phone();
  const puts: string[] = [];
  second.page.on("request", (r) => {
    if (r.method() === "PUT") puts.push(r.url());
  });
  await openLink(second.page, url);
  await expect(second.page.getByText("3 photos from before were not sent yet.")).toBeVisible();
  await second.page.getByRole("button", { name: "Continue" }).click();
  await second.page.getByRole("button", { name: "Skip details and send" }).click();
  await expect(second.page.getByRole("heading", { name: "3 photos sent to the desktop" })).toBeVisible({ timeout: 60_000 });
  expect(puts, "nothing uploaded twice").toEqual([]);
  expect((await desktopImages(desktop)).map((i) => i.imageId).sort()).toEqual(ids);
  await finish(second, desktop, 3);
});

test("a link revoked by a new QR code: its kept photos are deleted, never sent", async ({ browser, baseURL }) => {
  const { desktop, url: old, first } = await threePicked(browser, baseURL!);
  await first.context.close();

  await phoneLink(desktop); // the desktop regenerates its QR code
  const second = await phone();
  await openLink(second.page, old);
  await expect(second.page.getByRole("heading", { name: "This link was replaced by a newer QR code." })).toBeVisible();
  await expect.poll(async () => keptPhotos(second.page)).toEqual({ bytes: [], entries: [] });
  await finish(second, desktop, 0);
});
