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

const fail = (error) => (typeof error === "string" ? error : "heifUndecodable");

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

const finishTile = (id, index, rgba, from) => {
  const job = assembling;
  if (!job || job.id !== id) return;
  try {
    job.workers.add(from);
    if (job.grid.place(index, rgba) > 0) return;
    assembling = null;
    const image = job.grid.finish();
    job.grid.free();
    job.resolve({ image, workers: job.workers.size });
  } catch (error) {
    abandon(id, fail(error));
  }
};

const abandon = (id, kind) => {
  const job = assembling;
  if (!job || job.id !== id) return;
  assembling = null;
  job.grid.free();
  job.reject(kind);
};

// One tile for the photo `id`: placed here if this worker holds the photo,
// else sent back to the page with its pixels, which it forwards.
const decodeTile = async ({ id, index, file, worker }) => {
  try {
    let grid = assembling?.id === id ? assembling.grid : source?.id === id ? source.grid : null;
    if (!grid) {
      source?.grid.free();
      source = null;
      const module = await heifModule();
      grid = module.HeifGrid.open(new Uint8Array(await file.arrayBuffer()));
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
      abandon(message.id, message.kind);
      return;
    case "release":
      if (source?.id === message.id) {
        source.grid.free();
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
