// Makes uploads reach the server out of the order their photos were picked.
import type { Page } from "@playwright/test";

export type Reservation = { pickedAt: number; size: number };

/**
 * Holds the page's first two upload-slot requests (both in flight at once)
 * and lets the later-picked one through first, the earlier a second after.
 * Returns every slot request seen, in the order sent; the session must
 * still list the photos by `pickedAt`.
 */
export async function reserveOutOfPickOrder(page: Page): Promise<Reservation[]> {
  const seen: Reservation[] = [];
  const waiting: { pickedAt: number; go: () => void }[] = [];
  await page.route("**/api/medtech/session/presigned-url", async (route) => {
    const { pickedAt, size } = route.request().postDataJSON();
    seen.push({ pickedAt, size });
    if (seen.length <= 2) {
      await new Promise<void>((go) => {
        waiting.push({ pickedAt, go });
        if (waiting.length < 2) return;
        const [later, earlier] = [...waiting].sort((a, b) => b.pickedAt - a.pickedAt);
        later.go();
        setTimeout(earlier.go, 1000);
      });
    }
    await route.continue();
  });
  return seen;
}

/** The sizes of the reserved photos, in the order they were picked. */
export function sizesInPickOrder(seen: Reservation[]): number[] {
  for (const r of seen) if (typeof r.pickedAt !== "number") throw new Error("a slot request without pickedAt");
  return [...seen].sort((a, b) => a.pickedAt - b.pickedAt).map((r) => r.size);
}
