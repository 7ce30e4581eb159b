// Accessibility checks shared by the Chromium specs (issue 32): axe-core with
// the WCAG 2.2 AA tags, and a reflow check (WCAG 1.4.10, 1.4.4, 2.5.8).
import AxeBuilder from "@axe-core/playwright";
import { expect, type Page, type TestInfo } from "@playwright/test";
// @ts-ignore: plain ES module, shared with the WebKit and Firefox drivers
import { EXPLAINED_INCOMPLETE, WCAG_TAGS, axeFindings } from "../../engines/axe.mjs";

export { EXPLAINED_INCOMPLETE, WCAG_TAGS };

/**
 * Runs axe on the page as it stands and fails on any violation, or on an
 * "incomplete" (needs review) result the README's statement does not
 * explain. `state` names the screen in the failure and in the report.
 * Soft: one run reports every state's findings, and still fails.
 */
export async function axeClean(page: Page, testInfo: TestInfo, state: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(WCAG_TAGS).analyze();
  const findings = axeFindings(results);
  await testInfo.attach(`axe-${state}.json`, { body: JSON.stringify(findings, null, 2), contentType: "application/json" });
  expect.soft(findings.violations, `axe violations on "${state}"`).toEqual([]);
  expect.soft(findings.unexplained, `axe results needing review, not explained in the README, on "${state}"`).toEqual([]);
}

/**
 * In-page: what stops the page reflowing at its current size. The page must
 * not scroll sideways; every visible control must be inside the viewport's
 * width, not covered by anything else at its middle (scrolled into view
 * first), and at least `minTarget` CSS px each way unless it is a link in a
 * sentence (2.5.8's inline exception).
 */
export function reflowProblems(minTarget: number): string[] {
  const problems: string[] = [];
  const vw = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > vw + 1) {
    problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px wide in ${vw} px`);
  }
  const name = (el: Element) =>
    ((el.getAttribute("aria-label") || (el as HTMLElement).innerText || (el as HTMLInputElement).value || el.tagName) ?? "")
      .replace(/\s+/g, " ")
      .trim()
      .slice(0, 40);
  const shown = (el: Element) => {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && style.visibility !== "hidden" && !el.closest("[inert], .visually-hidden");
  };
  // A file input is hidden inside its <label>, and a radio's or checkbox's
  // label is its target: the label is the control.
  const controls = [
    ...document.querySelectorAll(
      "button, a[href], select, input:not([type=file]):not([type=radio]):not([type=checkbox]), textarea, label:has(> input[type=file], > input[type=radio], > input[type=checkbox])",
    ),
  ].filter(shown);
  for (const el of controls) {
    el.scrollIntoView({ block: "center", inline: "center" });
    const r = el.getBoundingClientRect();
    if (r.left < -1 || r.right > vw + 1) problems.push(`"${name(el)}" is cut off (${Math.round(r.left)}..${Math.round(r.right)} of ${vw})`);
    const inSentence = el.matches("a") && el.closest("p, li") !== null;
    if (!inSentence && Math.min(r.width, r.height) < minTarget - 0.5) {
      problems.push(`"${name(el)}" is ${Math.round(r.width)}×${Math.round(r.height)} px, under ${minTarget}`);
    }
    const x = Math.min(Math.max(r.left + r.width / 2, 0), vw - 1);
    const y = Math.min(Math.max(r.top + r.height / 2, 0), window.innerHeight - 1);
    const top = document.elementFromPoint(x, y);
    const mine = top !== null && (el.contains(top) || top.contains(el) || (el as HTMLInputElement).labels?.[0]?.contains(top));
    if (!mine) problems.push(`"${name(el)}" is covered by ${top ? `${top.tagName.toLowerCase()}.${top.className}` : "nothing"}`);
  }
  window.scrollTo(0, 0);
  return problems;
}

/** Fails with every reflow problem on the page, after a screenshot. */
export async function reflows(page: Page, testInfo: TestInfo, state: string, minTarget: number): Promise<void> {
  const path = testInfo.outputPath(`reflow-${state}.png`);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(`reflow-${state}`, { path, contentType: "image/png" });
  expect.soft(await page.evaluate(reflowProblems, minTarget), `reflow on "${state}"`).toEqual([]);
}

/** Text at 200 %: the root font size doubled, as a browser's text-size setting does. */
export async function doubleText(page: Page): Promise<void> {
  await page.evaluate(() => document.documentElement.style.setProperty("font-size", "200%", "important"));
}
