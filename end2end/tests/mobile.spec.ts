import { expect, test } from "@playwright/test";
import { screenshot, waitForHydration } from "./support/hydration";

test("an unknown link moves the token out of the URL and says what to do", async ({ page }, testInfo) => {
  await page.goto("/medtech-images/mobile?t=not-a-real-token-000000000000000000000000");
  await waitForHydration(page);
  await expect(page.getByRole("heading", { name: "This link is not recognised." })).toBeVisible();
  await expect(page.getByText("scan its QR code again")).toBeVisible();
  await expect(page).toHaveURL(/\/medtech-images\/mobile$/);
  const stored = await page.evaluate(() => sessionStorage.getItem("clinical-images.mobile-token"));
  expect(stored).toBe("not-a-real-token-000000000000000000000000");
  await screenshot(page, testInfo, "mobile-invalid-link");
});

test("a link without a token is reported as incomplete", async ({ page }, testInfo) => {
  await page.goto("/medtech-images/mobile");
  await waitForHydration(page);
  await expect(page.getByRole("heading", { name: "This link is incomplete." })).toBeVisible();
  await screenshot(page, testInfo, "mobile-no-token");
});
