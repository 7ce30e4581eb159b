// The engine-neutral half of the WebKit and Firefox drivers: waits and
// element look-ups done in the page, so both engines find things the same way,
// and desktop sessions minted over plain HTTP (node fetch, cookie kept by hand).
//
// Every driver (webkit.mjs, firefox.mjs) has this shape:
//   name                         "webkit" | "firefox"
//   goto(url)                    navigate and wait for the load event
//   setViewport(width, height)   the page's CSS viewport (innerWidth/innerHeight)
//   evaluate(fn, ...args)        run fn in the page, return its JSON-able result
//   element(fn, ...args)         run fn in the page, return the element it returns
//                                as a native handle (WebElement / ElementHandle)
//   clickHandle(handle)          a real (input-event) click on such a handle
//   setFilesHandle(handle, paths) put files on an <input type=file> handle
//   screenshot(path)             PNG of the viewport
//   close()
// and gets these from withHelpers():
//   waitFor(fn, {timeout, what}, ...args)   poll fn in the page until truthy
//   waitForHydration(timeout)    <html data-hydrated="true">
//   waitForHeading(text, timeout)
//   waitForText(text, timeout)   text anywhere in body's innerText
//   waitForImage(alt, timeout)   <img alt=...> loaded (naturalWidth > 0)
//   clickButton(text, timeout)   button by aria-label or trimmed text
//   setFiles(label, paths)       file input by aria-label or enclosing/for <label> text
//   installErrorCollector()      window.__errors gets console.error/onerror/unhandledrejection
//   errors()                     what the collector holds, plus role=alert texts

// The find* functions return the element, or with `probe` true just whether
// there is one: an element is not JSON, and puppeteer's evaluate() turns it
// into undefined, so waits must ask for the boolean.

/** In-page: finds a visible button whose accessible text is `text`. */
export function findButton(text, probe = false) {
  const norm = (s) => (s ?? "").replace(/\s+/g, " ").trim();
  const candidates = [...document.querySelectorAll("button, [role=button], input[type=button], input[type=submit]")];
  const found =
    candidates.find((el) => {
      const name = norm(el.getAttribute("aria-label")) || norm(el.innerText || el.value);
      return name === text && el.getClientRects().length > 0;
    }) ?? null;
  return probe ? found !== null : found;
}

/** In-page: finds <input type=file> by aria-label, by the <label> around it, or by <label for>. */
export function findFileInput(text, probe = false) {
  const norm = (s) => (s ?? "").replace(/\s+/g, " ").trim();
  const inputs = [...document.querySelectorAll("input[type=file]")];
  const found =
    inputs.find((el) => norm(el.getAttribute("aria-label")) === text) ??
    inputs.find((el) => [...(el.labels ?? [])].some((l) => norm(l.innerText || l.textContent) === text)) ??
    inputs.find((el) => [...(el.labels ?? [])].some((l) => norm(l.innerText || l.textContent).includes(text))) ??
    null;
  return probe ? found !== null : found;
}

/** In-page: is there a heading (h1–h6 or role=heading) whose text is `text`? */
export function hasHeading(text) {
  const norm = (s) => (s ?? "").replace(/\s+/g, " ").trim();
  return [...document.querySelectorAll("h1,h2,h3,h4,h5,h6,[role=heading]")].some(
    (el) => norm(el.innerText || el.textContent) === text && el.getClientRects().length > 0,
  );
}

/** In-page: the collector of errors the page reports. Idempotent. */
export function installCollector() {
  if (window.__errors) return true;
  window.__errors = [];
  const push = (kind, parts) =>
    window.__errors.push(`${kind}: ${parts.map((p) => (p instanceof Error ? `${p.message}\n${p.stack}` : String(p))).join(" ")}`);
  const origError = console.error.bind(console);
  console.error = (...a) => (push("console.error", a), origError(...a));
  const origWarn = console.warn.bind(console);
  console.warn = (...a) => (push("console.warn", a), origWarn(...a));
  window.addEventListener("error", (e) => push("onerror", [e.message, e.filename ? `${e.filename}:${e.lineno}` : ""]));
  window.addEventListener("unhandledrejection", (e) => push("unhandledrejection", [e.reason]));
  return true;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Adds the waits and look-ups above to a driver that has the native primitives. */
export function withHelpers(d) {
  d.waitFor = async (fn, { timeout = 10_000, what = fn.name || "condition" } = {}, ...args) => {
    const deadline = Date.now() + timeout;
    let last;
    for (;;) {
      try {
        last = await d.evaluate(fn, ...args);
        if (last) return last;
      } catch (e) {
        last = e; // navigation in flight: the context went away; try again
      }
      if (Date.now() > deadline) {
        const body = await d.evaluate(() => document.body?.innerText?.slice(0, 600)).catch(() => "?");
        throw new Error(`${d.name}: timed out after ${timeout} ms waiting for ${what} (last: ${last}); page text: ${body}`);
      }
      await sleep(100);
    }
  };
  d.waitForHydration = (timeout = 30_000) =>
    d.waitFor(() => document.documentElement.dataset.hydrated === "true", { timeout, what: "data-hydrated" });
  d.waitForHeading = (text, timeout = 10_000) => d.waitFor(hasHeading, { timeout, what: `heading "${text}"` }, text);
  d.waitForText = (text, timeout = 10_000) =>
    d.waitFor((t) => document.body?.innerText.includes(t), { timeout, what: `text "${text}"` }, text);
  d.waitForImage = async (alt, timeout = 10_000) => {
    await d.waitFor(
      (a) => [...document.images].some((i) => i.alt === a && i.complete && i.naturalWidth > 0),
      { timeout, what: `image "${alt}"` },
      alt,
    );
    // Loaded is not painted: WebKit paints a large image's decode some frames
    // later, and a screenshot taken at once shows the empty placeholder.
    await d.evaluate(async (a) => {
      const img = [...document.images].find((i) => i.alt === a);
      await img?.decode().catch(() => {});
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return true;
    }, alt);
  };
  d.clickButton = async (text, timeout = 10_000) => {
    await d.waitFor(findButton, { timeout, what: `button "${text}"` }, text, true);
    await d.clickHandle(await d.element(findButton, text));
  };
  d.setFiles = async (label, paths, timeout = 10_000) => {
    await d.waitFor(findFileInput, { timeout, what: `file input "${label}"` }, label, true);
    await d.setFilesHandle(await d.element(findFileInput, label), paths);
  };
  d.installErrorCollector = () => d.evaluate(installCollector);
  d.errors = () =>
    d.evaluate(() => [
      ...(window.__errors ?? []),
      ...[...document.querySelectorAll("[role=alert]")].map((e) => `role=alert: ${e.innerText.trim()}`).filter((s) => s !== "role=alert: "),
    ]);
  return d;
}

/** Adds the helpers and sizes the viewport; a failed launch leaves no browser behind. */
export async function ready(d, width, height) {
  withHelpers(d);
  try {
    await d.setViewport(width, height);
  } catch (e) {
    await d.close();
    throw e;
  }
  return d;
}

// ---- desktop sessions over plain HTTP ------------------------------------------

let counter = 0;

/** A fresh development-launch session: { base, cookie, patient, desktopUrl }. */
export async function desktopSession(base) {
  const patient = `${Date.now().toString(16)}${(counter++).toString(16)}${Math.random().toString(16).slice(2)}`
    .padEnd(32, "0")
    .slice(0, 32);
  const desktopUrl = `${base}/medtech-images?patientId=${patient}&facilityId=F2N060-E`;
  const res = await fetch(desktopUrl, { redirect: "manual" });
  const cookie = (res.headers.getSetCookie?.() ?? [res.headers.get("set-cookie")])
    .filter(Boolean)
    .map((c) => c.split(";")[0])
    .join("; ");
  if (!cookie) throw new Error(`no session cookie from ${desktopUrl} (${res.status})`);
  return { base, cookie, patient, desktopUrl };
}

/** Mints a phone link for the session, as the QR panel does. */
export async function phoneLink(s) {
  const res = await fetch(`${s.base}/api/medtech/session/mobile-token`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Origin: s.base, Cookie: s.cookie },
    body: "{}",
  });
  if (!res.ok) throw new Error(`mobile-token: ${res.status} ${await res.text()}`);
  return (await res.json()).mobileUrl;
}

/** The session's images as the desktop API lists them. */
export async function desktopImages(s) {
  const res = await fetch(`${s.base}/api/medtech/session/images`, { headers: { Cookie: s.cookie } });
  if (!res.ok) throw new Error(`images: ${res.status}`);
  return res.json();
}
