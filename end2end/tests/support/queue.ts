// What the phone keeps in IndexedDB (src/client/queue.rs), read in the page.
import type { Page } from "@playwright/test";

export type Kept = { key: string; bytes: number; jpeg: boolean; exif: boolean };
export type KeptEntry = { key: string; metadata: { laterality?: string; bodySite?: string } };

/** The kept photos' bytes, summarised, and the record keys, as the page sees them. */
export async function keptPhotos(page: Page): Promise<{ bytes: Kept[]; entries: KeptEntry[] }> {
  return page.evaluate(async () => {
    // Opening a database that does not exist would create it: look first.
    const names = (await indexedDB.databases()).map((d) => d.name);
    if (!names.includes("clinical-images")) return { bytes: [], entries: [] };
    const db: IDBDatabase = await new Promise((resolve, reject) => {
      const r = indexedDB.open("clinical-images");
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const tx = db.transaction(["photo-bytes", "photo-entries"]);
    const all = (store: string): Promise<any[]> =>
      new Promise((resolve) => {
        const r = tx.objectStore(store).getAll();
        r.onsuccess = () => resolve(r.result);
      });
    const [bytes, entries] = await Promise.all([all("photo-bytes"), all("photo-entries")]);
    db.close();
    const has = (b: Uint8Array, s: string) => {
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
      entries: entries.map((r) => ({ key: r.key as string, metadata: JSON.parse(r.json).metadata })),
    };
  });
}
