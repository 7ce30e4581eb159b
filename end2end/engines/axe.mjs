// axe-core with the WCAG 2.2 AA tags, shared by the Chromium specs
// (through @axe-core/playwright) and the WebKit and Firefox drivers (which
// inject axe.min.js, see runAxe). One list of what axe could not decide
// and a person has looked at, with why it passes; the README's
// accessibility statement says the same.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

export const WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

/**
 * What axe could not decide ("incomplete", needs review) and a person has
 * looked at: the rule, what axe said about the element (and, where only one
 * element is meant, which), and why it passes.
 * A needs-review result matching none of these fails the test.
 */
export const EXPLAINED_INCOMPLETE = [
  {
    id: "color-contrast",
    said: /only non-text characters/,
    why:
      "An icon glyph beside or inside a labelled control (📷, 🖼, the step pads' arrows). It is not text; " +
      "its control's own name and border carry the meaning, and the glyphs meet 3:1 (1.4.11) against their backgrounds.",
  },
  {
    id: "color-contrast",
    said: /partially overlaps other elements/,
    target: /^\.shortcuts__setting > span$/,
    why:
      "WebKit only: the shortcut sheet's setting text, beside its checkbox, is dark ink (#17212b) on the dialog's white, " +
      "as in every other engine, where axe measures it (16.3:1); in WebKit axe cannot tell which of the two boxes is behind it.",
  },
  {
    id: "video-caption",
    said: /captions/,
    why: "The webcam dialog's live preview: the camera is opened for video only (getUserMedia asks for no audio), so there is no sound to caption.",
  },
];

const message = (node) => (node.failureSummary ?? node.any?.map((c) => c.message).join(" ") ?? "").replace(/\s+/g, " ");

const explained = (rule, node) =>
  EXPLAINED_INCOMPLETE.some(
    (e) => e.id === rule.id && e.said.test(message(node)) && (!e.target || e.target.test(node.target.join(" "))),
  );

/** The violations, and the needs-review results not explained above, in short. */
export function axeFindings(results) {
  const brief = (r, nodes) => ({
    id: r.id,
    impact: r.impact,
    nodes: nodes.slice(0, 5).map((n) => `${n.target.join(" ")}: ${message(n)}`),
  });
  return {
    violations: results.violations.map((r) => brief(r, r.nodes)),
    unexplained: results.incomplete
      .map((r) => brief(r, r.nodes.filter((n) => !explained(r, n))))
      .filter((r) => r.nodes.length > 0),
  };
}

// Resolved from the end2end package (the tests' working directory).
const axeSource = () =>
  readFileSync(createRequire(join(process.cwd(), "package.json")).resolve("axe-core/axe.min.js"), "utf8");

/**
 * Runs axe in a WebKit or Firefox page through its driver: the source goes
 * in as the driver's own script (a page's CSP forbids inline scripts and
 * eval, not what WebDriver runs), then axe.run with the tags.
 */
export async function runAxe(d) {
  await d.evaluateSource(`${axeSource()}\n;window.__axeReady = true;`);
  return d.evaluate(async (tags) => {
    const results = await window.axe.run(document, { runOnly: { type: "tag", values: tags } });
    return { violations: results.violations, incomplete: results.incomplete };
  }, WCAG_TAGS);
}
