// One patient per window (issue 27), in Chromium through the real UI:
// - two tabs of one browser, two patients: each files into its own record;
// - a phone link opened in a tab never rides along when that tab later
//   opens a desktop for another patient.
import { expect, test, type Page } from "@playwright/test";
import { screenshot, waitForHydration } from "./support/hydration";
import { photo } from "./support/jpeg";
import { desktopImages, desktopSession, phoneLink } from "./support/session";

test.describe.configure({ timeout: 120_000 });

const AROHA = { id: "14e52e16edb7a435bfa05e307afd008b", label: "Aroha Testpatient · NHI ZZZ0016", option: "Aroha Testpatient (ZZZ0016)" };
const JAMES = { id: "5b1f0c7a9e3d4c2b8a6f1e0d9c8b7a65", label: "James Sample · NHI ZZZ0024", option: "James Sample (ZZZ0024)" };

const strip = (page: Page) => page.getByRole("listbox", { name: "Photos" }).getByRole("option");

/** Evolution's launch of `patient` in this tab, as the sandbox plays it. */
async function launch(page: Page, patient: typeof AROHA) {
  await page.goto("/sandbox/alex");
  await page.getByLabel("Patient").selectOption({ label: patient.option });
  await page.getByRole("button", { name: "Open in Evolution" }).click();
  await expect(page).toHaveURL(/\/medtech-images\?session=[0-9a-f]{16}$/);
  await waitForHydration(page);
  await expect(page.getByRole("region", { name: "Patient" })).toContainText(patient.label);
  await expect(page.getByRole("status").filter({ hasText: "Live" })).toBeVisible();
}

/** Adds one photo with a description and commits it; the commit dialog must name `patient`. */
async function fileOne(page: Page, patient: typeof AROHA, note: string) {
  const before = await strip(page).count();
  await page.getByLabel("Add photos").setInputFiles([
    { name: "p.jpg", mimeType: "image/jpeg", buffer: photo("umang_by_Abhishek_Mudgal.jpg") },
  ]);
  await expect(strip(page)).toHaveCount(before + 1, { timeout: 60_000 });
  await strip(page).last().click();
  await page.getByLabel("Description").fill(note);
  await page.getByRole("button", { name: "Save details" }).click();
  await expect(strip(page).filter({ hasText: "Ready" })).toHaveCount(1, { timeout: 30_000 });
  await page.getByRole("button", { name: "Commit 1 image" }).click();
  const commit = page.getByRole("dialog", { name: "Commit 1 image" });
  // The patient shown is the one the server will file for, read now.
  await expect(commit.getByRole("region", { name: "Patient the photos are filed for" })).toContainText(patient.label);
  await commit.getByRole("button", { name: "Confirm and commit" }).click();
  await expect(commit.getByText(/^Committed /)).toHaveCount(1, { timeout: 60_000 });
  await commit.getByRole("button", { name: "Close" }).click();
}

async function filedFor(page: Page, note: string): Promise<string[]> {
  const inbox: any[] = await (await page.request.get("/sandbox/alex/inbox.json")).json();
  return inbox.filter((r) => JSON.stringify(r.resource.note ?? "").includes(note)).map((r) => r.patientId);
}

test("two tabs, two patients: a photo committed in each lands in its own patient's record", async ({ page, context }, testInfo) => {
  const run = Date.now().toString(36);
  await launch(page, AROHA);
  // Evolution opens the next consultation's widget in another tab.
  const second = await context.newPage();
  await launch(second, JAMES);
  // The first tab still shows Aroha and still works for her, after the second launch.
  await expect(page.getByRole("region", { name: "Patient" })).toContainText(AROHA.label);
  await fileOne(page, AROHA, `tab one ${run}`);
  await screenshot(page, testInfo, "windows-tab-one-committed");
  await fileOne(second, JAMES, `tab two ${run}`);
  expect(await filedFor(page, `tab one ${run}`)).toEqual([AROHA.id]);
  expect(await filedFor(page, `tab two ${run}`)).toEqual([JAMES.id]);
  // A reload of the first tab is still Aroha's window.
  await page.reload();
  await expect(page.getByRole("region", { name: "Patient" })).toContainText(AROHA.label);
});

test("a phone link opened in a tab never acts for a desktop that tab opens later", async ({ browser, baseURL }) => {
  // Patient A's desktop (its own browser) mints a phone link.
  const a = await desktopSession(browser, baseURL!);
  const link = await phoneLink(a);
  // In one tab of another browser: the phone link, then a desktop launch for patient B.
  const context = await browser.newContext({ baseURL, viewport: { width: 1366, height: 900 } });
  const tab = await context.newPage();
  await tab.goto(link);
  await waitForHydration(tab);
  await expect(tab.getByRole("heading", { name: "Add photos" })).toBeVisible({ timeout: 30_000 });
  expect(await tab.evaluate(() => sessionStorage.getItem("clinical-images.mobile-token"))).not.toBeNull();
  const sent: string[] = [];
  tab.on("request", (r) => {
    if (new URL(r.url()).pathname.startsWith("/api/") && r.headers()["authorization"]) sent.push(r.url());
  });
  await tab.goto(`/medtech-images?patientId=${JAMES.id}&facilityId=F2N060-E`);
  await waitForHydration(tab);
  await expect(tab.getByRole("region", { name: "Patient" })).toContainText("···7a65");
  // Leaving the phone's page removed the token from the tab.
  await expect.poll(() => tab.evaluate(() => sessionStorage.getItem("clinical-images.mobile-token"))).toBeNull();
  await tab.getByLabel("Add photos").setInputFiles([
    { name: "b.jpg", mimeType: "image/jpeg", buffer: photo("umang_by_Abhishek_Mudgal.jpg") },
  ]);
  await expect(strip(tab)).toHaveCount(1, { timeout: 60_000 });
  expect(sent, "no desktop call carried the phone's token").toEqual([]);
  // A's session got nothing; B's photo is B's, from the desktop.
  expect(await desktopImages(a)).toEqual([]);
  const name = new URL(tab.url()).searchParams.get("session")!;
  const listed = await (await tab.request.get("/api/medtech/session/images", { headers: { "x-capture-session": name } })).json();
  expect(listed.map((i: any) => i.source)).toEqual(["desktop"]);
  await context.close();
  await a.context.close();
});
