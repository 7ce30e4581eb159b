// WebKit: Debian's MiniBrowser (webkit2gtk-4.1) driven through WebKitWebDriver
// with selenium-webdriver. Needs an X display (Xvfb); see launchWebKit's DISPLAY.
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Builder } from "selenium-webdriver";
import remote from "selenium-webdriver/remote/index.js";
import { ready } from "./common.mjs";

const MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
const DRIVER = "/usr/bin/WebKitWebDriver";

// MiniBrowser's GTK header bar (back, forward, reload, address entry, menu) has a
// minimum width of 447 px, so the window cannot be made narrow enough for a
// 390 px page. A user stylesheet for GTK shrinks the bar; it reaches MiniBrowser
// through XDG_CONFIG_HOME, inherited from WebKitWebDriver.
const GTK_CSS =
  "headerbar, toolbar, headerbar *, toolbar *, entry, button " +
  "{ min-width: 0; min-height: 0; padding: 0; margin: 0; font-size: 4px; }\n";

async function gtkConfigHome() {
  const dir = join(tmpdir(), "clinical-images-webkit-gtk");
  await mkdir(join(dir, "gtk-3.0"), { recursive: true });
  await writeFile(join(dir, "gtk-3.0", "gtk.css"), GTK_CSS);
  return dir;
}

/**
 * Starts WebKitWebDriver and a MiniBrowser session.
 * @param {{display?: string, width?: number, height?: number}} [opts]
 */
export async function launchWebKit({ display = process.env.DISPLAY ?? ":99", width = 390, height = 844 } = {}) {
  // Without an X server MiniBrowser never opens and WebKitWebDriver waits on
  // it for minutes: fail at once, saying what is missing.
  const socket = `/tmp/.X11-unix/X${display.replace(/^.*:/, "").replace(/\..*$/, "")}`;
  if (!existsSync(socket)) {
    throw new Error(`webkit: no X server on DISPLAY=${display} (${socket} is missing); start one, e.g. Xvfb ${display}`);
  }
  // The generic service builder spawns the binary with --port=N and polls /status.
  const service = new remote.DriverService.Builder(DRIVER)
    .setLoopback(true)
    .setEnvironment({ ...process.env, DISPLAY: display, XDG_CONFIG_HOME: await gtkConfigHome() })
    .setStdio(["ignore", "ignore", "inherit"])
    .build();
  const driver = await new Builder()
    .withCapabilities({
      browserName: "MiniBrowser",
      "webkitgtk:browserOptions": { binary: MINIBROWSER, args: ["--automation"] },
    })
    .usingServer(await service.start())
    .build();

  const d = {
    name: "webkit",
    /** Workarounds taken at run time, for the report. */
    quirks: [],
    raw: driver,
    async goto(url) {
      await driver.get(url);
    },
    async setViewport(w, h) {
      // WebDriver sizes the window, not the page: the window has chrome around
      // the web view, so measure and correct. The resize lands asynchronously
      // (innerWidth lags the Set Window Rect reply), so wait for it each round.
      const inner = () => driver.executeScript("return [window.innerWidth, window.innerHeight]");
      let [iw, ih] = await inner();
      for (let round = 0; round < 6 && (iw !== w || ih !== h); round++) {
        const rect = await driver.manage().window().getRect();
        const target = { width: Math.max(100, Math.round(rect.width + (w - iw))), height: Math.max(100, Math.round(rect.height + (h - ih))) };
        await driver.manage().window().setRect(target);
        const before = [iw, ih];
        for (let i = 0; i < 40; i++) {
          [iw, ih] = await inner();
          if (iw !== before[0] || ih !== before[1]) break;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      if (iw !== w || ih !== h) throw new Error(`webkit: viewport is ${iw}x${ih}, wanted ${w}x${h}`);
    },
    evaluate: (fn, ...args) => driver.executeScript(fn, ...args),
    evaluateSource: (source) => driver.executeScript(source),
    element: (fn, ...args) => driver.executeScript(fn, ...args),
    clickHandle: (el) => el.click(),
    typeHandle: (el, text) => el.sendKeys(text),
    async setFilesHandle(el, paths) {
      // The app's inputs are visually hidden inside <label>s. If WebKitWebDriver
      // refuses to type into one ("element not interactable"), unhide it for
      // the moment of the send, then restore its style.
      try {
        await el.sendKeys(paths.join("\n"));
        return;
      } catch (e) {
        if (e?.name !== "ElementNotInteractableError") throw e;
        d.quirks.push(`sendKeys on hidden file input refused: ${e.message.split("\n")[0]}; unhid it`);
      }
      const saved = await driver.executeScript(
        `const el = arguments[0]; const s = el.getAttribute("style");
         el.setAttribute("style", "display:block !important; position:fixed; left:0; top:0; width:10px; height:10px; opacity:1; clip:auto; clip-path:none; visibility:visible; pointer-events:auto; z-index:2147483647");
         return s;`,
        el,
      );
      try {
        await el.sendKeys(paths.join("\n"));
      } finally {
        await driver.executeScript(
          "const [el, s] = arguments; if (el.isConnected) { if (s === null) el.removeAttribute('style'); else el.setAttribute('style', s); }",
          el,
          saved,
        );
      }
    },
    async screenshot(path) {
      // WebKit's screenshot can return the previous frame (a just-swapped
      // screen, a large image not yet painted): let images decode and two
      // frames pass first.
      await driver.executeScript(`return Promise.all([...document.images].map((i) => i.decode().catch(() => {})))
        .then(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))).then(() => true)`);
      await writeFile(path, Buffer.from(await driver.takeScreenshot(), "base64"));
    },
    async close() {
      await driver.quit().catch(() => {});
      await service.kill().catch(() => {});
    },
  };
  return ready(d, width, height);
}
