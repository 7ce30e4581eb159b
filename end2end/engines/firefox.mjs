// Firefox: Debian's firefox-esr driven by puppeteer-core over WebDriver BiDi.
// Headless, so no display is needed.
import puppeteer from "puppeteer-core";
import { ready } from "./common.mjs";

const FIREFOX = "/usr/bin/firefox-esr";

/** @param {{width?: number, height?: number, headless?: boolean}} [opts] */
export async function launchFirefox({ width = 390, height = 844, headless = true } = {}) {
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless,
    // Keep the background chatter (updates, telemetry) quiet and off the network.
    extraPrefsFirefox: { "app.update.enabled": false, "browser.shell.checkDefaultBrowser": false },
  });
  const page = (await browser.pages())[0] ?? (await browser.newPage());
  const console_ = [];
  page.on("console", (m) => ["error", "warn"].includes(m.type()) && console_.push(`console.${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => console_.push(`pageerror: ${e.message}`));

  const d = {
    name: "firefox",
    raw: page,
    browser,
    /** Console errors/warnings and page errors seen natively (BiDi log events). */
    consoleMessages: () => [...console_],
    async goto(url) {
      await page.goto(url, { waitUntil: "load" });
    },
    async setViewport(w, h) {
      await page.setViewport({ width: w, height: h });
    },
    evaluate: (fn, ...args) => page.evaluate(fn, ...args),
    evaluateSource: (source) => page.evaluate(source),
    element: async (fn, ...args) => {
      const h = await page.evaluateHandle(fn, ...args);
      const el = h.asElement();
      if (!el) throw new Error("firefox: element() function returned no element");
      return el;
    },
    clickHandle: (el) => el.click(),
    typeHandle: (el, text) => el.type(text),
    setFilesHandle: (el, paths) => el.uploadFile(...paths),
    async screenshot(path) {
      await page.screenshot({ path });
    },
    async close() {
      await browser.close().catch(() => {});
    },
  };
  return ready(d, width, height);
}
