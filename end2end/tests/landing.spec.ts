import { expect, test } from "@playwright/test";
import { screenshot, waitForHydration } from "./support/hydration";

test("landing page explains the product and links to the sandbox", async ({ page }, testInfo) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1, name: "Clinical Images" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "How it works" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Open the sandbox launcher" })).toBeVisible();
  await waitForHydration(page);
  await screenshot(page, testInfo, "landing");
});

test("status button calls the server function once hydrated", async ({ page }, testInfo) => {
  await page.goto("/");
  await waitForHydration(page);
  await page.getByRole("button", { name: "Check service status" }).click();
  const report = page.getByRole("status", { name: "Service status report" });
  await expect(report).toContainText("Overall: ok");
  await expect(report).toContainText("redis");
  await expect(report).toContainText("s3");
  await screenshot(page, testInfo, "landing-status");
});

test("sandbox launcher is served in embedded ALEX mode", async ({ page }) => {
  await page.goto("/");
  await page.getByRole("link", { name: "Open the sandbox launcher" }).click();
  await expect(page.getByRole("heading", { name: "ALEX sandbox" })).toBeVisible();
});

test("the landing page launches a test patient through the real Evolution path", async ({ page }, testInfo) => {
  await page.goto("/");
  await page.getByLabel("Test patient").selectOption({ label: "James Sample (ZZZ0024)" });
  await screenshot(page, testInfo, "landing-launcher");
  await page.getByRole("button", { name: "Open in Evolution" }).click();
  await expect(page).toHaveURL(/\/medtech-images\?session=[0-9a-f]{16}$/);
  await expect(page.getByRole("region", { name: "Patient" })).toContainText("James Sample · NHI ZZZ0024");
});

test("the bundle has content-hashed names, cached immutable; a second visit fetches none of it", async ({ page }) => {
  const seen: { path: string; cacheControl: string | undefined }[] = [];
  page.on("response", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith("/pkg/")) seen.push({ path, cacheControl: r.headers()["cache-control"] });
  });
  await page.goto("/");
  await waitForHydration(page);
  await page.waitForLoadState("networkidle");
  expect(seen.length).toBeGreaterThanOrEqual(3); // JS, WASM and CSS at least
  for (const { path, cacheControl } of seen) {
    expect(path, "a content hash in every bundle name").toMatch(/\.[\w-]{20,}\.(js|wasm|css)$/);
    expect(cacheControl, path).toBe("public, max-age=31536000, immutable");
  }
  // The worker loads its modules by fixed names: kept, but revalidated.
  const worker = await page.request.get("/pipeline-worker.js");
  expect(worker.headers()["cache-control"]).toBe("no-cache");

  // Again, in the same browser: every bundle file comes from the cache.
  await page.goto("/");
  await waitForHydration(page);
  const transferred = await page.evaluate(() =>
    (performance.getEntriesByType("resource") as PerformanceResourceTiming[])
      .filter((e) => new URL(e.name).pathname.startsWith("/pkg/"))
      .map((e) => ({ path: new URL(e.name).pathname, bytes: e.transferSize })),
  );
  expect(transferred.length).toBeGreaterThan(0);
  expect(transferred.filter((e) => e.bytes > 0), "fetched again over the network").toEqual([]);
});

test("an unknown address says so, hydrates like any page, and leads home", async ({ page }) => {
  const response = await page.goto("/no-such-page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  // Its inline scripts carry the response's nonce; the policy must allow it.
  await waitForHydration(page);
  await page.getByRole("link", { name: "Go to the Clinical Images home page" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Clinical Images" })).toBeVisible();
});
