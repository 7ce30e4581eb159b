// The phone's capture flow, end to end: Pixel 7 emulation in Debian's
// Chromium against the real app (Redis, S3 and the ALEX sandbox in CI).
import { expect, test, type Page } from "@playwright/test";
import { screenshot, waitForHydration } from "./support/hydration";
import { photo } from "./support/jpeg";
import { reserveOutOfPickOrder, sizesInPickOrder } from "./support/order";
import { desktopImages, desktopSession, phoneLink, sessionHeader } from "./support/session";

test.describe.configure({ timeout: 120_000 });

const jpeg = (name: string, file: string) => ({ name, mimeType: "image/jpeg", buffer: photo(file) });

async function openLink(page: Page, url: string) {
  await page.goto(url);
  await waitForHydration(page);
  await expect(page.getByRole("heading", { name: "Add photos" })).toBeVisible();
  await expect(page).not.toHaveURL(/[?&]t=/);
}

test("full flow: capture, review, details, upload, done, seen on the desktop", async ({ page, browser, baseURL }, testInfo) => {
  const desktop = await desktopSession(browser, baseURL!);
  const url = await phoneLink(desktop);

  // 1. Connecting (server-rendered before hydration takes over).
  await page.route("**/api/medtech/session/token", async (route) => {
    await new Promise((r) => setTimeout(r, 400));
    await route.continue();
  });
  await page.goto(url);
  await expect(page.getByRole("status")).toContainText("Connecting");
  await screenshot(page, testInfo, "1-connecting");

  // 2. Capture: the token has left the address bar; the banner is masked.
  await expect(page.getByRole("heading", { name: "Add photos" })).toBeVisible();
  await expect(page).not.toHaveURL(/[?&]t=/);
  const banner = page.getByLabel("Patient");
  await expect(banner).toContainText("Photos for");
  await expect(banner).toContainText("F2N060-E");
  await expect(page.getByText("No photos sent yet.")).toBeVisible();
  await expect(page.getByLabel("Take photo")).toHaveAttribute("capture", "environment");
  await screenshot(page, testInfo, "2-capture");

  await page.getByLabel("Choose from gallery").setInputFiles([
    jpeg("bridge.jpg", "Bridge_by_Sander_Klootwijk.jpg"),
    jpeg("umang.jpg", "umang_by_Abhishek_Mudgal.jpg"),
  ]);

  // 3. Review: remove one, add one.
  await expect(page.getByRole("heading", { name: "Review" })).toBeVisible();
  await expect(page.getByRole("img", { name: "Photo 2" })).toBeVisible();
  await page.getByRole("button", { name: "Remove photo 1" }).click();
  await page.getByLabel("Add more").setInputFiles([jpeg("sunset.jpg", "sunset_by_Aitzol_Berasategi.jpg")]);
  await expect(page.getByRole("img", { name: "Photo 2" })).toBeVisible();
  await expect(page.getByRole("button", { name: /Remove photo/ })).toHaveCount(2);
  await screenshot(page, testInfo, "3-review");
  await page.getByRole("button", { name: "Continue" }).click();

  // 4. Details: site and side on the first, carried forward to the second.
  await expect(page.getByText("Photo 1 of 2")).toBeVisible();
  await page.getByRole("button", { name: "Left", exact: true }).click();
  await page.getByRole("button", { name: "Forearm", exact: true }).click();
  await page.getByLabel("Description").fill("Itchy rash, 3 days");
  await expect(page.getByText("18 / 500")).toBeVisible();
  await screenshot(page, testInfo, "4-details");
  await page.getByRole("button", { name: "Next" }).click();
  await expect(page.getByText("Photo 2 of 2")).toBeVisible();
  await page.getByRole("button", { name: "Same as previous" }).click();
  await expect(page.getByRole("button", { name: "Left", exact: true })).toHaveAttribute("aria-pressed", "true");
  await expect(page.getByText("Chosen: Forearm")).toBeVisible();

  // 5. Uploading: hold the uploads briefly so the screen can be seen.
  await page.route(
    (u) => !u.pathname.startsWith("/api/") || u.pathname.startsWith("/api/medtech/blobs/"),
    async (route) => {
      if (route.request().method() === "PUT") await new Promise((r) => setTimeout(r, 700));
      await route.continue();
    },
  );
  await page.getByRole("button", { name: "Send all" }).click();
  await expect(page.getByRole("heading", { name: /Sending \d of 2/ })).toBeVisible();
  await screenshot(page, testInfo, "5-uploading");

  // 6. Done.
  await expect(page.getByRole("heading", { name: "2 photos sent to the desktop" })).toBeVisible({ timeout: 60_000 });
  await expect(page.getByText("still on this phone")).toBeVisible();
  await screenshot(page, testInfo, "6-done");

  // The desktop shows both without a reload, with what the phone set.
  await waitForHydration(desktop.page);
  const strip = desktop.page.getByRole("listbox", { name: "Photos" }).getByRole("option");
  await expect(strip).toHaveCount(2);
  await strip.nth(0).click();
  await expect(desktop.page.getByText("Forearm (SNOMED 14975008)")).toBeVisible();
  await expect(desktop.page.getByLabel("Description")).toHaveValue("Itchy rash, 3 days");
  await expect.poll(async () => (await desktopImages(desktop)).length).toBe(2);
  const images = await desktopImages(desktop);
  for (const image of images) {
    expect(image.source).toBe("mobile");
    expect(image.contentType).toBe("image/jpeg");
    expect(Math.max(image.width!, image.height!)).toBeLessThanOrEqual(2560);
    expect(image.metadata).toEqual({ laterality: "left", bodySite: "14975008", description: "Itchy rash, 3 days" });
  }

  // "Take more" goes back to Capture on the same link, with the running count.
  await page.getByRole("button", { name: "Take more" }).click();
  await expect(page.getByText("2 photos sent to the desktop.")).toBeVisible();
  await desktop.context.close();
});

test("the desktop lists the phone's photos in the order they were picked, whichever reached it first", async ({ page, browser, baseURL }) => {
  const desktop = await desktopSession(browser, baseURL!);
  await openLink(page, await phoneLink(desktop));
  // Both upload lanes ask for a slot at once (as soon as the photos are
  // ready, during review); the server is made to reserve them out of pick order.
  const seen = await reserveOutOfPickOrder(page);
  await page.getByLabel("Choose from gallery").setInputFiles([
    jpeg("bridge.jpg", "Bridge_by_Sander_Klootwijk.jpg"),
    jpeg("umang.jpg", "umang_by_Abhishek_Mudgal.jpg"),
    jpeg("sunset.jpg", "sunset_by_Aitzol_Berasategi.jpg"),
  ]);
  await expect(page.getByRole("img", { name: "Photo 3" })).toBeVisible();
  await expect(page.getByLabel(/Preparing photo/)).toHaveCount(0);
  await page.getByRole("button", { name: "Continue" }).click();
  for (const n of [1, 2, 3]) {
    await expect(page.getByText(`Photo ${n} of 3`)).toBeVisible();
    await page.getByLabel("Description").fill(`picked ${n}`);
    if (n < 3) await page.getByRole("button", { name: "Next" }).click();
  }

  await page.getByRole("button", { name: "Send all" }).click();
  await expect(page.getByRole("heading", { name: "3 photos sent to the desktop" })).toBeVisible({ timeout: 60_000 });
  expect(seen).toHaveLength(3);

  // The API and the desktop's strip both go in pick order.
  const images = await desktopImages(desktop);
  expect(images.map((i) => i.metadata.description)).toEqual(["picked 1", "picked 2", "picked 3"]);
  expect(images.map((i) => i.bytes)).toEqual(sizesInPickOrder(seen));
  await waitForHydration(desktop.page);
  const strip = desktop.page.getByRole("listbox", { name: "Photos" }).getByRole("option");
  await expect(strip).toHaveCount(3);
  for (const n of [1, 2, 3]) {
    await strip.nth(n - 1).click();
    await expect(desktop.page.getByLabel("Description")).toHaveValue(`picked ${n}`);
  }
  await desktop.context.close();
});

test("going offline pauses the queue; back online it finishes with no duplicates", async ({ page, browser, baseURL }) => {
  const desktop = await desktopSession(browser, baseURL!);
  await openLink(page, await phoneLink(desktop));
  // The first upload to the store (during review) drops the connection mid-request.
  let dropped = false;
  await page.route(
    (u) => !u.pathname.startsWith("/api/") || u.pathname.startsWith("/api/medtech/blobs/"),
    async (route) => {
      if (route.request().method() === "PUT" && !dropped) {
        dropped = true;
        await page.context().setOffline(true);
        await route.abort("internetdisconnected");
        return;
      }
      await route.continue();
    },
  );
  await page.getByLabel("Choose from gallery").setInputFiles([
    jpeg("a.jpg", "Bridge_by_Sander_Klootwijk.jpg"),
    jpeg("b.jpg", "umang_by_Abhishek_Mudgal.jpg"),
  ]);
  await expect(page.getByRole("img", { name: "Photo 2" })).toBeVisible();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Skip details and send" }).click();
  await expect(page.getByText("You are offline.")).toBeVisible();
  await expect(page.getByText("Paused: offline").first()).toBeVisible();
  expect(await desktopImages(desktop)).toHaveLength(0);

  await page.context().setOffline(false);
  await expect(page.getByRole("heading", { name: "2 photos sent to the desktop" })).toBeVisible({ timeout: 60_000 });
  expect(dropped).toBe(true);
  await expect.poll(async () => (await desktopImages(desktop)).length).toBe(2);
  await desktop.context.close();
});

test("a non-image from the gallery gets its own error; the others still go", async ({ page, browser, baseURL }) => {
  const desktop = await desktopSession(browser, baseURL!);
  await openLink(page, await phoneLink(desktop));
  await page.getByLabel("Choose from gallery").setInputFiles([
    { name: "scan.jpg", mimeType: "image/jpeg", buffer: Buffer.from("%PDF-1.7\n%%EOF\n") },
    jpeg("b.jpg", "umang_by_Abhishek_Mudgal.jpg"),
  ]);
  await expect(page.getByRole("alert")).toHaveText("This is a PDF document, not a photo.");
  await expect(page.getByText("1 photo ready to send.")).toBeVisible();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Skip details and send" }).click();
  await expect(page.getByRole("heading", { name: "1 photo sent to the desktop" })).toBeVisible({ timeout: 60_000 });
  await expect.poll(async () => (await desktopImages(desktop)).length).toBe(1);
  await desktop.context.close();
});

test("a photo left unsent at Finish: its upload is cancelled, so its bytes leave the server at once", async ({ page, browser, baseURL }) => {
  const desktop = await desktopSession(browser, baseURL!);
  await openLink(page, await phoneLink(desktop));
  // Its bytes reach the blob store, but its registration never gets through.
  await page.route("**/api/medtech/session/images", (route) =>
    route.request().method() === "POST" ? route.abort("failed") : route.continue(),
  );
  await page.getByLabel("Choose from gallery").setInputFiles([jpeg("b.jpg", "umang_by_Abhishek_Mudgal.jpg")]);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("button", { name: "Skip details and send" }).click();
  // After its automatic retries, the failure is an alert, with Retry.
  await expect(page.getByRole("button", { name: "Retry" })).toBeVisible({ timeout: 60_000 });
  await expect(page.locator(".m-list").getByRole("alert")).toHaveCount(1);
  const cancelled = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/medtech/session/uploads/cancel");
  await page.getByRole("button", { name: "Finish" }).click();
  const response = await cancelled;
  expect(response.status()).toBe(200);
  expect(JSON.parse(response.request().postData()!).imageId).toMatch(/^[0-9a-f-]{36}$/);
  expect(await desktopImages(desktop)).toHaveLength(0);
  await desktop.context.close();
});

test("two phones on one link both reach the desktop", async ({ page, browser, baseURL }) => {
  const desktop = await desktopSession(browser, baseURL!);
  const url = await phoneLink(desktop);
  const second = await browser.newContext({ ...test.info().project.use, baseURL });
  const other = await second.newPage();
  for (const [p, file] of [
    [page, "Bridge_by_Sander_Klootwijk.jpg"],
    [other, "umang_by_Abhishek_Mudgal.jpg"],
  ] as const) {
    await openLink(p, url);
    await p.getByLabel("Choose from gallery").setInputFiles([jpeg("photo.jpg", file)]);
    await p.getByRole("button", { name: "Continue" }).click();
    await p.getByRole("button", { name: "Skip details and send" }).click();
  }
  for (const p of [page, other]) {
    await expect(p.getByRole("heading", { name: "1 photo sent to the desktop" })).toBeVisible({ timeout: 60_000 });
  }
  await expect.poll(async () => (await desktopImages(desktop)).length).toBe(2);
  await second.close();
  await desktop.context.close();
});

test.describe("dead links land on screen 7 with the right message", () => {
  test("a garbage token", async ({ page }, testInfo) => {
    await page.goto("/medtech-images/mobile?t=garbage-garbage-garbage-garbage-000000");
    await waitForHydration(page);
    await expect(page.getByRole("heading", { name: "This link is not recognised." })).toBeVisible();
    await screenshot(page, testInfo, "7-invalid");
  });

  test("a token revoked by a new QR code", async ({ page, browser, baseURL }, testInfo) => {
    const desktop = await desktopSession(browser, baseURL!);
    const old = await phoneLink(desktop);
    await phoneLink(desktop); // the desktop regenerates its QR code
    await page.goto(old);
    await waitForHydration(page);
    await expect(page.getByRole("heading", { name: "This link was replaced by a newer QR code." })).toBeVisible();
    await expect(page.getByText("Scan the new QR code on the desktop.")).toBeVisible();
    await screenshot(page, testInfo, "7-revoked");
    await desktop.context.close();
  });

  test("a token whose desktop session has ended", async ({ page, browser, baseURL }, testInfo) => {
    const desktop = await desktopSession(browser, baseURL!);
    const url = await phoneLink(desktop);
    const ended = await desktop.page.request.post("/api/medtech/session/end", { data: {}, headers: sessionHeader(desktop.page) });
    expect(ended.ok()).toBe(true);
    await page.goto(url);
    await waitForHydration(page);
    await expect(page.getByRole("heading", { name: "This link has expired." })).toBeVisible();
    await expect(page.getByText("The desktop session has ended.")).toBeVisible();
    await screenshot(page, testInfo, "7-expired");
    await desktop.context.close();
  });
});
