// With JavaScript off: every page still renders its first screen on the
// server, and the status button does nothing, which proves it needs hydration.
import { expect, test } from "@playwright/test";

test("landing renders without JavaScript, and its button needs hydration", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1, name: "Clinical Images" })).toBeVisible();
  await page.getByRole("button", { name: "Check service status" }).click();
  await expect(page.getByRole("status", { name: "Service status report" })).toHaveCount(0);
  await expect(page.locator("html")).not.toHaveAttribute("data-hydrated", "true");
});

test("desktop launch screen renders without JavaScript", async ({ page }) => {
  await page.goto("/medtech-images");
  await expect(
    page.getByRole("heading", { name: "Launch Clinical Images from the patient in Medtech Evolution" }),
  ).toBeVisible();
});

test("mobile page renders its connecting screen without JavaScript", async ({ page }) => {
  await page.goto("/medtech-images/mobile?t=abc");
  await expect(page.getByText("Connecting to your desktop…")).toBeVisible();
});

test("landing shows the sandbox callout without JavaScript", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("link", { name: "Open the sandbox launcher" })).toBeVisible();
});
