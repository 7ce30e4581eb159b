// Shared helpers: waiting for hydration, and screenshots kept in the test output.
import { expect, type Page, type TestInfo } from "@playwright/test";

/**
 * Resolves once the WASM bundle has hydrated the page (see client::mark_hydrated).
 * The debug bundle compiles slowly while another worker runs the image
 * pipeline on both cores, so this waits longer than other expectations.
 */
export async function waitForHydration(page: Page): Promise<void> {
  try {
    await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true", { timeout: 30_000 });
  } catch (e) {
    // Say why: what the page logged and threw (a panic, a blocked script).
    const messages = (await page.consoleMessages()).map((m) => `${m.type()}: ${m.text()}`);
    const errors = (await page.pageErrors()).map((err) => `pageerror: ${err.message}`);
    // A refused inline script: which nonce the page's scripts carry, and what
    // the same address answers now (a policy without it points at a
    // response that missed the page headers).
    const nonces = await page
      .evaluate(() => [...new Set([...document.scripts].map((el) => el.nonce || "(none)"))])
      .catch(() => []);
    // How the document itself arrived (from a cache? after redirects?).
    const navigation = await page
      .evaluate(() => {
        const n = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined;
        if (!n) return "(no entry)";
        const { type, redirectCount, transferSize, responseStatus, deliveryType } = n as any;
        return JSON.stringify({ type, redirectCount, transferSize, responseStatus, deliveryType });
      })
      .catch(() => "(unavailable)");
    const again = await page.request.get(page.url()).catch(() => null);
    const policy = again ? `${again.status()} ${again.headers()["content-security-policy"] ?? "(no CSP)"}` : "(refetch failed)";
    console.log(
      `page did not hydrate (${page.url()}):\n${[...messages, ...errors].join("\n")}\n` +
        `script nonces: ${nonces.join(", ")}\nnavigation: ${navigation}\nrefetched: ${policy}`,
    );
    throw e;
  }
}

/** Saves a full-page screenshot into this test's output directory and attaches it. */
export async function screenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: "image/png" });
}
