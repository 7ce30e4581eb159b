// The engine-neutral half of the WebKit and Firefox drivers: waits and
// element look-ups done in the page, so both engines find things the same way,
// and desktop sessions minted over plain HTTP (node fetch, cookie kept by hand).
//
// Every driver (webkit.mjs, firefox.mjs) has this shape:
//   name                         "webkit" | "firefox"
//   goto(url)                    navigate and wait for the load event
//   setViewport(width, height)   the page's CSS viewport (innerWidth/innerHeight)
//   evaluate(fn, ...args)        run fn in the page, return its JSON-able result
//   evaluateSource(source)       run a script's source as the driver's own script (axe.mjs)
//   element(fn, ...args)         run fn in the page, return the element it returns
//                                as a native handle (WebElement / ElementHandle)
//   clickHandle(handle)          a real (input-event) click on such a handle
//   typeHandle(handle, text)     real key presses into such a handle
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
//   clickLabel(text, timeout)    <label> by its text (checks its radio or checkbox)
//   choose(label, option)        picks an option of the <select> a <label> names
//   type(field, text, timeout)   types into a field found by aria-label, placeholder or label
//   setFiles(label, paths)       file input by aria-label or enclosing/for <label> text
//   installErrorCollector()      window.__errors gets console.error/onerror/unhandledrejection
//   layoutProblems()             what makes the screen hard to use on a phone (see below)
//   kept()                       what the phone keeps in IndexedDB (readKept below)
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

/** In-page: a text field (input or textarea) by aria-label, placeholder, or the <label> around it or for it. */
export function findField(text, probe = false) {
  const norm = (s) => (s ?? "").replace(/\s+/g, " ").trim();
  const fields = [...document.querySelectorAll("input:not([type=file]):not([type=radio]):not([type=checkbox]), textarea")].filter(
    (el) => el.getClientRects().length > 0,
  );
  const labelled = (el) => [...(el.labels ?? [])].map((l) => norm(l.innerText || l.textContent));
  const found =
    fields.find((el) => norm(el.getAttribute("aria-label")) === text || norm(el.placeholder) === text) ??
    fields.find((el) => labelled(el).some((t) => t === text || t.startsWith(`${text} `) || t.startsWith(`${text}\n`))) ??
    null;
  return probe ? found !== null : found;
}

/** In-page: a visible <label> whose own text is `text` (a radio or checkbox's label: clicking it checks the box). */
export function findLabel(text, probe = false) {
  const norm = (s) => (s ?? "").replace(/\s+/g, " ").trim();
  const found = [...document.querySelectorAll("label")].find((l) => norm(l.innerText) === text && l.getClientRects().length > 0) ?? null;
  return probe ? found !== null : found;
}

/**
 * In-page: chooses `option` in the visible <select> whose <label> starts with
 * `label`, as a user's choice does (the selection, then input and change
 * events: what puppeteer's own select() does). True once chosen.
 */
export function chooseOption(label, option) {
  const norm = (s) => (s ?? "").replace(/\s+/g, " ").trim();
  const select = [...document.querySelectorAll("label")]
    .filter((l) => l.getClientRects().length > 0)
    // The label's own words: its text nodes, not the options inside it.
    .filter((l) => norm([...l.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join(" ")) === label)
    .map((l) => l.querySelector("select"))
    .find((s) => s && !s.disabled);
  const index = select ? [...select.options].findIndex((o) => norm(o.text) === option) : -1;
  if (index < 0) return false;
  select.selectedIndex = index;
  select.dispatchEvent(new Event("input", { bubbles: true }));
  select.dispatchEvent(new Event("change", { bubbles: true }));
  return true;
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

/**
 * In-page: what the phone keeps in IndexedDB (src/client/queue.rs): each kept
 * photo's bytes, summarised, and each record's key, metadata and pipeline summary.
 */
export async function readKept() {
  // Opening a database that does not exist would create it: look first.
  const names = (await indexedDB.databases()).map((d) => d.name);
  if (!names.includes("clinical-images")) return { bytes: [], entries: [] };
  const db = await new Promise((resolve, reject) => {
    const r = indexedDB.open("clinical-images");
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const tx = db.transaction(["photo-bytes", "photo-entries"]);
  const all = (store) =>
    new Promise((resolve, reject) => {
      const r = tx.objectStore(store).getAll();
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  const [bytes, entries] = await Promise.all([all("photo-bytes"), all("photo-entries")]);
  db.close();
  const has = (b, s) => {
    const needle = new TextEncoder().encode(s);
    outer: for (let i = 0; i + needle.length <= b.length; i++) {
      for (let j = 0; j < needle.length; j++) if (b[i + j] !== needle[j]) continue outer;
      return true;
    }
    return false;
  };
  return {
    bytes: bytes.map((r) => {
      const b = new Uint8Array(r.bytes);
      return { key: r.key, bytes: b.length, jpeg: b[0] === 0xff && b[1] === 0xd8, exif: has(b, "Exif\0\0") };
    }),
    entries: entries.map((r) => {
      const entry = JSON.parse(r.json);
      return {
        key: r.key,
        metadata: entry.metadata,
        summary: entry.summary,
        pickedAt: entry.pickedAt,
        imageId: entry.ticket?.imageId ?? null,
        uploaded: entry.uploaded === true,
      };
    }),
  };
}

/**
 * In-page: what makes a phone screen hard to use, as a list of problems (empty
 * when none): a page wider than the viewport, a control cut off at the side or
 * smaller than a fingertip (44 px, Apple's minimum), text under 12 px.
 */
export function layoutProblems() {
  const problems = [];
  const vw = window.innerWidth;
  if (document.documentElement.scrollWidth > vw + 1) {
    problems.push(`page is ${document.documentElement.scrollWidth} px wide in a ${vw} px viewport`);
  }
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && style.visibility !== "hidden" && style.opacity !== "0";
  };
  const name = (el) => (el.getAttribute("aria-label") || el.innerText || el.value || el.tagName).replace(/\s+/g, " ").trim().slice(0, 40);
  // A file input is hidden inside its <label>: the label is the control.
  const controls = [...document.querySelectorAll("button, a[href], select, input:not([type=file]), textarea, label:has(input[type=file])")];
  for (const el of controls.filter(visible)) {
    const r = el.getBoundingClientRect();
    if (r.left < -1 || r.right > vw + 1) problems.push(`"${name(el)}" is cut off (${Math.round(r.left)}..${Math.round(r.right)} of ${vw})`);
    const tappable = el.matches("button, a[href], select, label, input[type=button], input[type=submit]");
    if (tappable && Math.min(r.height, r.width) < 44) problems.push(`"${name(el)}" is ${Math.round(r.width)}×${Math.round(r.height)} px, under 44`);
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const small = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || !n.textContent.trim() || !visible(el) || el.closest("[aria-hidden=true], .visually-hidden, .sr-only")) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 12) small.add(`text "${n.textContent.trim().slice(0, 30)}" is ${size} px`);
  }
  return [...problems, ...small];
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
  d.clickLabel = async (text, timeout = 10_000) => {
    await d.waitFor(findLabel, { timeout, what: `label "${text}"` }, text, true);
    await d.clickHandle(await d.element(findLabel, text));
  };
  d.choose = async (label, option, timeout = 10_000) => {
    await d.waitFor(chooseOption, { timeout, what: `"${option}" in "${label}"` }, label, option);
  };
  d.type = async (field, text, timeout = 10_000) => {
    await d.waitFor(findField, { timeout, what: `field "${field}"` }, field, true);
    await d.typeHandle(await d.element(findField, field), text);
  };
  d.setFiles = async (label, paths, timeout = 10_000) => {
    await d.waitFor(findFileInput, { timeout, what: `file input "${label}"` }, label, true);
    await d.setFilesHandle(await d.element(findFileInput, label), paths);
  };
  d.installErrorCollector = () => d.evaluate(installCollector);
  d.layoutProblems = () => d.evaluate(layoutProblems);
  d.kept = () => d.evaluate(readKept);
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

/** A fresh development-launch session: { base, cookie, session, patient, desktopUrl }. */
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
  const session = new URL(res.headers.get("location"), base).searchParams.get("session");
  return { base, cookie, session, patient, desktopUrl };
}

/** The headers of a request from the session's desktop page: its cookie, and its name. */
export function desktopHeaders(s) {
  return { Cookie: s.cookie, "x-capture-session": s.session };
}

/** Mints a phone link for the session, as the QR panel does. */
export async function phoneLink(s) {
  const res = await fetch(`${s.base}/api/medtech/session/mobile-token`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Origin: s.base, ...desktopHeaders(s) },
    body: "{}",
  });
  if (!res.ok) throw new Error(`mobile-token: ${res.status} ${await res.text()}`);
  return (await res.json()).mobileUrl;
}

/** The session's images as the desktop API lists them. */
export async function desktopImages(s) {
  const res = await fetch(`${s.base}/api/medtech/session/images`, { headers: desktopHeaders(s) });
  if (!res.ok) throw new Error(`images: ${res.status}`);
  return res.json();
}
