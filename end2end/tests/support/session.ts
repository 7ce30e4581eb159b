// Desktop sessions for tests that need one: a development launch in its own
// browser context, and phone links minted through the desktop's API.
import { expect, type Browser, type BrowserContext, type Page } from "@playwright/test";
import { waitForHydration } from "./hydration";

export type Desktop = { context: BrowserContext; page: Page };

let patientCounter = 0;

/** The header a desktop page sends to name its session (from its URL, `?session=…`). */
export function sessionHeader(page: Page): Record<string, string> {
  const name = new URL(page.url()).searchParams.get("session");
  if (!name) throw new Error(`not a desktop session page: ${page.url()}`);
  return { "x-capture-session": name };
}

/** Opens a desktop context with a fresh development-launch session. */
export async function desktopSession(browser: Browser, baseURL: string): Promise<Desktop> {
  const context = await browser.newContext({ baseURL, viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  const patient = `e2e${Date.now().toString(16)}${(patientCounter++).toString(16)}`.padEnd(32, "0").slice(0, 32);
  await page.goto(`/medtech-images?patientId=${patient}&facilityId=F2N060-E`);
  return { context, page };
}

/** Mints a phone link (revoking the previous one), as the QR panel does. */
export async function phoneLink(desktop: Desktop): Promise<string> {
  const response = await desktop.page.request.post("/api/medtech/session/mobile-token", {
    data: {},
    headers: sessionHeader(desktop.page),
  });
  if (!response.ok()) throw new Error(`mobile-token: ${response.status()} ${await response.text()}`);
  return (await response.json()).mobileUrl as string;
}

export type ImageInfo = {
  imageId: string;
  source: string;
  contentType: string;
  bytes: number;
  width: number | null;
  height: number | null;
  metadata: { laterality?: string; bodySite?: string; description?: string };
};

/** The session's images as the desktop's API lists them. */
export async function desktopImages(desktop: Desktop): Promise<ImageInfo[]> {
  const response = await desktop.page.request.get("/api/medtech/session/images", { headers: sessionHeader(desktop.page) });
  if (!response.ok()) throw new Error(`images: ${response.status()}`);
  return response.json();
}

/** Opens a patient's desktop through the sandbox's Evolution launcher,
 *  e.g. `"Mere Example (ZZZ0032)"`, and waits until it is live. */
export async function launchFromSandbox(page: Page, patient: string): Promise<void> {
  await page.goto("/sandbox/alex");
  await page.getByLabel("Patient").selectOption({ label: patient });
  await page.getByRole("button", { name: "Open in Evolution" }).click();
  await expect(page).toHaveURL(/\/medtech-images\?session=[0-9a-f]{16}$/);
  await waitForHydration(page);
  await expect(page.getByRole("status").filter({ hasText: "Live" })).toBeVisible();
}
