// What the phone keeps in IndexedDB (src/client/queue.rs), read in the page.
import type { Page } from "@playwright/test";
// @ts-ignore: plain ES module, shared with the WebKit and Firefox drivers
import { readKept } from "../../engines/common.mjs";
import type { Summary } from "./pipeline";

export type Kept = { key: string; bytes: number; jpeg: boolean; exif: boolean };
export type KeptEntry = {
  key: string;
  metadata: { laterality?: string; bodySite?: string };
  summary: Summary;
  /** When the GP picked it, on the phone's clock (Unix ms). */
  pickedAt?: number;
  /** The image id of its upload ticket, once it has one. */
  imageId: string | null;
  /** Its bytes are at that ticket's slot, uploaded while the GP reviewed. */
  uploaded: boolean;
};

/** The kept photos' bytes, summarised, and the records, as the page sees them. */
export async function keptPhotos(page: Page): Promise<{ bytes: Kept[]; entries: KeptEntry[] }> {
  return page.evaluate(readKept);
}
