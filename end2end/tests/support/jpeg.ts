// JPEG byte helpers for the pipeline tests: put EXIF into a real photo, and
// list what an output carries. Written from the JPEG and TIFF/EXIF layouts.
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Directories filled by scripts/common.sh `fetch_fixtures`. */
export function photo(name: string): Buffer {
  const dir = process.env.FIXTURE_PHOTO_DIR;
  if (!dir) throw new Error("FIXTURE_PHOTO_DIR is not set: run the tests through scripts/test.sh");
  return readFileSync(join(dir, name));
}

export function heic(name: string): Buffer {
  const dir = process.env.FIXTURE_HEIC_DIR;
  if (!dir) throw new Error("FIXTURE_HEIC_DIR is not set: run the tests through scripts/test.sh");
  return readFileSync(join(dir, name));
}

type Entry = { tag: number; type: number; count: number; value: Buffer };

/** A little-endian TIFF IFD; values over 4 bytes go after it, from `dataAt`. */
function ifd(entries: Entry[], at: number, next = 0): Buffer {
  const head = Buffer.alloc(2 + entries.length * 12 + 4);
  head.writeUInt16LE(entries.length, 0);
  let dataAt = at + head.length;
  const data: Buffer[] = [];
  entries.forEach((e, i) => {
    const o = 2 + i * 12;
    head.writeUInt16LE(e.tag, o);
    head.writeUInt16LE(e.type, o + 2);
    head.writeUInt32LE(e.count, o + 4);
    if (e.value.length <= 4) {
      e.value.copy(head, o + 8);
    } else {
      head.writeUInt32LE(dataAt, o + 8);
      data.push(e.value);
      dataAt += e.value.length;
    }
  });
  head.writeUInt32LE(next, 2 + entries.length * 12);
  return Buffer.concat([head, ...data]);
}

const short = (v: number) => { const b = Buffer.alloc(4); b.writeUInt16LE(v, 0); return b; };
const long = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v, 0); return b; };
const rationals = (...parts: number[]) => {
  const b = Buffer.alloc(parts.length * 8);
  parts.forEach((p, i) => { b.writeUInt32LE(p, i * 8); b.writeUInt32LE(1, i * 8 + 4); });
  return b;
};

/**
 * The photo with its own metadata segments removed and an EXIF APP1 put in:
 * the given orientation, a camera make, a capture time and a GPS latitude.
 */
export function withExif(jpeg: Buffer, orientation: number): Buffer {
  const make = Buffer.from("TestCam\0");
  const captured = Buffer.from("2026:11:20 09:15:00\0");
  // TIFF header (8 bytes), then IFD0, the Exif IFD and the GPS IFD in turn.
  const ifd0Entries = (exifAt: number, gpsAt: number): Entry[] => [
    { tag: 0x010f, type: 2, count: make.length, value: make },
    { tag: 0x0112, type: 3, count: 1, value: short(orientation) },
    { tag: 0x8769, type: 4, count: 1, value: long(exifAt) },
    { tag: 0x8825, type: 4, count: 1, value: long(gpsAt) },
  ];
  const ifd0Size = ifd(ifd0Entries(0, 0), 8).length;
  const exifAt = 8 + ifd0Size;
  const exifIfd = ifd([{ tag: 0x9003, type: 2, count: captured.length, value: captured }], exifAt);
  const gpsAt = exifAt + exifIfd.length;
  const gpsIfd = ifd(
    [
      { tag: 0x0001, type: 2, count: 2, value: Buffer.from("S\0\0\0", "latin1") },
      { tag: 0x0002, type: 5, count: 3, value: rationals(36, 51, 0) },
    ],
    gpsAt,
  );
  const body = Buffer.concat([
    Buffer.from("Exif\0\0II*\0\x08\0\0\0", "latin1"),
    ifd(ifd0Entries(exifAt, gpsAt), 8),
    exifIfd,
    gpsIfd,
  ]);
  const marker = Buffer.alloc(4);
  marker.writeUInt16BE(0xffe1, 0);
  marker.writeUInt16BE(body.length + 2, 2);
  const all = segments(jpeg);
  const kept = all
    .filter((s) => !((s.marker >= 0xe1 && s.marker <= 0xef) || s.marker === 0xfe))
    .map((s) => jpeg.subarray(s.offset, s.offset + 2 + s.length));
  const last = all[all.length - 1];
  const scanAt = last ? last.offset + 2 + last.length : 2;
  return Buffer.concat([jpeg.subarray(0, 2), marker, body, ...kept, jpeg.subarray(scanAt)]);
}

export type Segment = { marker: number; offset: number; length: number; body: Buffer };

/** Header segments up to the start of scan. */
export function segments(jpeg: Buffer | Uint8Array): Segment[] {
  const b = Buffer.from(jpeg);
  const out: Segment[] = [];
  let i = 2;
  while (i + 4 <= b.length && b[i] === 0xff && b[i + 1] !== 0xda) {
    const length = b.readUInt16BE(i + 2);
    out.push({ marker: b[i + 1], offset: i, length, body: b.subarray(i + 4, i + 2 + length) });
    i += 2 + length;
  }
  return out;
}

/**
 * Every segment of the file, past the start of scan too: entropy-coded data
 * is skipped (stuffed 0xFF00 and restart markers are not segments), scans
 * and the tables between progressive scans are walked, and whatever follows
 * the end-of-image marker is reported as `trailer`. Written independently of
 * the Rust stripper, so its checks do not compare the code with itself.
 */
export function walk(jpeg: Buffer | Uint8Array): { segments: Segment[]; trailer: number } {
  const b = Buffer.from(jpeg);
  const out: Segment[] = [];
  let i = 2;
  while (i + 1 < b.length) {
    if (b[i] !== 0xff) throw new Error(`no marker at ${i}`);
    const marker = b[i + 1];
    if (marker === 0xff) { i += 1; continue; }
    if (marker === 0xd9) return { segments: out, trailer: b.length - (i + 2) };
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { i += 2; continue; }
    const length = b.readUInt16BE(i + 2);
    out.push({ marker, offset: i, length, body: b.subarray(i + 4, i + 2 + length) });
    i += 2 + length;
    if (marker === 0xda) {
      while (i < b.length && !(b[i] === 0xff && b[i + 1] !== 0x00 && !(b[i + 1] >= 0xd0 && b[i + 1] <= 0xd7))) i += 1;
    }
  }
  return { segments: out, trailer: 0 };
}

/** Metadata anywhere in the file (EXIF/GPS, XMP, MPF, maker notes, comments), or a trailer: none may remain. */
export function metadataSegments(jpeg: Buffer | Uint8Array): string[] {
  const { segments: all, trailer } = walk(jpeg);
  const found = all
    .filter((s) => {
      if (s.marker === 0xe0) return !s.body.subarray(0, 5).equals(Buffer.from("JFIF\0"));
      if (s.marker === 0xe2) return !s.body.subarray(0, 12).equals(Buffer.from("ICC_PROFILE\0"));
      return (s.marker >= 0xe1 && s.marker <= 0xef) || s.marker === 0xfe;
    })
    .map((s) => `APP${s.marker - 0xe0} ${s.body.subarray(0, 12).toString("latin1")}`);
  return trailer > 0 ? [...found, `trailer of ${trailer} bytes`] : found;
}
