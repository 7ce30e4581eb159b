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
  await expect(page).toHaveURL(/\/medtech-images$/);
  await expect(page.getByRole("region", { name: "Patient" })).toContainText("James Sample · NHI ZZZ0024");
});
