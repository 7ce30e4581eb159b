import { expect, test } from "@playwright/test";
import { screenshot, waitForHydration } from "./support/hydration";

const LAUNCH_HEADING = "Launch Clinical Images from the patient in Medtech Evolution";

test("without a session the desktop explains how to launch", async ({ page }, testInfo) => {
  await page.goto("/medtech-images");
  await expect(page.getByRole("heading", { name: LAUNCH_HEADING })).toBeVisible();
  await expect(page.getByRole("alert")).toContainText("opened directly");
  await waitForHydration(page);
  await expect(page.getByRole("link", { name: "open the sandbox launcher" })).toBeVisible();
  await screenshot(page, testInfo, "desktop-no-session");
});

test("development launch opens a session with a DEV banner and a clean URL", async ({ page }, testInfo) => {
  await page.goto("/medtech-images?patientId=14e52e16edb7a435bfa05e307afd008b&facilityId=F2N060-E");
  await expect(page).toHaveURL(/\/medtech-images\?session=[0-9a-f]{16}$/);
  const banner = page.getByRole("region", { name: "Patient" });
  await expect(banner).toContainText("DEV");
  await expect(banner).toContainText("Patient ···008b");
  await expect(banner).toContainText("F2N060-E");
  await waitForHydration(page);
  await expect(page.getByText("No photos in this session yet.")).toBeVisible();
  await screenshot(page, testInfo, "desktop-session");

  // A reload keeps the session: it lives on the server, not in the page.
  await page.reload();
  await expect(page.getByRole("region", { name: "Patient" })).toContainText("Patient ···008b");
});

test("launching from the sandbox's Evolution launcher shows the patient's name", async ({ page }, testInfo) => {
  await page.goto("/sandbox/alex");
  await page.getByLabel("Patient").selectOption({ label: "Aroha Testpatient (ZZZ0016)" });
  await page.getByRole("button", { name: "Open in Evolution" }).click();
  await expect(page).toHaveURL(/\/medtech-images\?session=[0-9a-f]{16}$/);
  const banner = page.getByRole("region", { name: "Patient" });
  await expect(banner).toContainText("Aroha Testpatient · NHI ZZZ0016");
  await expect(banner).not.toContainText("DEV");
  await waitForHydration(page);
  await screenshot(page, testInfo, "desktop-evolution-launch");
});
