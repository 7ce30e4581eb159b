// The image pipeline's Web Worker. It loads the pipeline's own WASM module
// (this crate built with the `worker` feature, into /pipeline/; the page's
// bundle does not carry it) and hands each file to `pipelineWorkerProcess`
// (src/client/worker.rs), where all of the logic is. The HEIC decoder is a
// third module (`heif` feature), imported only when a HEIC file needs it.
// Jobs run one at a time, in arrival order, which bounds memory on a phone.
//
// A HEIC made of tiles is decoded across the pool (src/client/pipeline.rs
// hands out the tiles): this worker, holding the photo, tells the page how
// many tiles it has, then each worker the page picks (this one included)
// decodes one tile at a time; the tiles come back here to be assembled.
import init, { pipelineWorkerProcess } from "/pipeline/pipeline.js";

const ready = init({ module_or_path: "/pipeline/pipeline_bg.wasm" });
let heif = null;
const heifModule = () =>
  (heif ??= import("/pipeline/heif.js").then(async (module) => {
    await module.default({ module_or_path: "/pipeline/heif_bg.wasm" });
    return module;
  }));

// The grid of the photo this worker holds, while its tiles come in.
let assembling = null; // { id, grid, workers: Set, resolve, reject }
// The grid a tile was last decoded from for another worker's photo.
let source = null; // { id, grid }
// Photos finished, failed or released here (the latest few): a tile asked
// for one of them afterwards is not decoded, nor its file read again.
const over = new Set();
const markOver = (id) => {
  over.add(id);
  if (over.size > 32) over.delete(over.values().next().value);
};

const fail = (error) => (typeof error === "string" ? error : "heifUndecodable");
const free = (grid) => {
  try {
    grid.free();
  } catch {
    // Already freed, or the module is broken: nothing more to release.
  }
};

// Decodes a HEIC whole, or, when the page has more than one worker and the
// photo is a grid, tile by tile across the pool. Resolves to
// `{ image: ImageData, workers }`, `workers` being how many decoded it.
const decodeHeif = async (id, bytes, poolSize) => {
  const module = await heifModule();
  const grid = poolSize > 1 ? module.HeifGrid.open(bytes) : undefined;
  if (!grid) return { image: module.decodeHeif(bytes), workers: 1 };
  return new Promise((resolve, reject) => {
    assembling = { id, grid, workers: new Set(), resolve, reject };
    self.postMessage({ id, type: "grid", tiles: grid.tiles() });
  });
};

// The photo held here is over, either way: it settles exactly once.
const settle = (job, outcome) => {
  if (assembling === job) assembling = null;
  markOver(job.id);
  if ("image" in outcome) job.resolve({ image: outcome.image, workers: job.workers.size });
  else job.reject(outcome.kind);
  free(job.grid);
};

const finishTile = (id, index, rgba, from) => {
  const job = assembling;
  if (!job || job.id !== id) return;
  let image;
  try {
    job.workers.add(from);
    if (job.grid.place(index, rgba) > 0) return;
    image = job.grid.finish();
  } catch (error) {
    settle(job, { kind: fail(error) });
    return;
  }
  settle(job, { image });
};

// One tile for the photo `id`: placed here if this worker holds the photo,
// else sent back to the page with its pixels, which it forwards. Every
// request gets exactly one answer, so the page never waits on this worker.
const decodeTile = async ({ id, index, file, worker }) => {
  const skip = () => self.postMessage({ id, type: "tile", index });
  try {
    if (over.has(id)) return skip();
    let grid = assembling?.id === id ? assembling.grid : source?.id === id ? source.grid : null;
    if (!grid) {
      if (source) free(source.grid);
      source = null;
      const module = await heifModule();
      const bytes = new Uint8Array(await file.arrayBuffer());
      // Released while the file was being read.
      if (over.has(id)) return skip();
      grid = module.HeifGrid.open(bytes);
      if (!grid) throw "heifUndecodable";
      source = { id, grid };
    }
    const rgba = grid.decodeTile(index);
    if (assembling?.id === id) {
      self.postMessage({ id, type: "tile", index });
      finishTile(id, index, rgba, worker);
    } else {
      self.postMessage({ id, type: "tile", index, rgba }, [rgba.buffer]);
    }
  } catch (error) {
    self.postMessage({ id, type: "tileFailed", index, kind: fail(error) });
  }
};

let queue = Promise.resolve();

self.onmessage = (event) => {
  const message = event.data;
  switch (message.type) {
    case "tile":
      decodeTile(message);
      return;
    case "tileData":
      finishTile(message.id, message.index, message.rgba, message.from);
      return;
    case "tileFailed":
      if (assembling?.id === message.id) settle(assembling, { kind: message.kind });
      return;
    case "release":
      markOver(message.id);
      if (source?.id === message.id) {
        free(source.grid);
        source = null;
      }
      return;
  }
  const { id, file, targets, poolSize } = message;
  if (id === undefined) return; // a warm-up message: loading the module is all it asks
  queue = queue.then(async () => {
    try {
      await ready;
      const progress = (fraction) => self.postMessage({ id, type: "progress", fraction });
      const heif = (bytes) => decodeHeif(id, bytes, poolSize ?? 1);
      const { blob, summary } = await pipelineWorkerProcess(file, targets, progress, heif);
      self.postMessage({ id, type: "done", blob, summary });
    } catch (error) {
      const text = typeof error === "string" ? error : "";
      self.postMessage({ id, type: "error", error: text.startsWith("{") ? text : null });
    }
  });
};
