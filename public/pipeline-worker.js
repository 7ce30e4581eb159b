// The image pipeline's Web Worker. It loads the pipeline's own WASM module
// (this crate built with the `worker` feature, into /pipeline/; the page's
// bundle does not carry it) and hands each file to `pipelineWorkerProcess`
// (src/client/worker.rs), where all of the logic is. The HEIC decoder is a
// third module (`heif` feature), imported only when a HEIC file needs it.
// Jobs run one at a time, in arrival order, which bounds memory on a phone.
import init, { pipelineWorkerProcess } from "/pipeline/pipeline.js";

const ready = init({ module_or_path: "/pipeline/pipeline_bg.wasm" });
let heif = null;
const decodeHeif = async (bytes) => {
  heif ??= import("/pipeline/heif.js").then(async (module) => {
    await module.default({ module_or_path: "/pipeline/heif_bg.wasm" });
    return module;
  });
  return (await heif).decodeHeif(bytes);
};
let queue = Promise.resolve();

self.onmessage = (event) => {
  const { id, file, targets } = event.data;
  if (id === undefined) return; // a warm-up message: loading the module is all it asks
  queue = queue.then(async () => {
    try {
      await ready;
      const progress = (fraction) => self.postMessage({ id, type: "progress", fraction });
      const { blob, summary } = await pipelineWorkerProcess(file, targets, progress, decodeHeif);
      self.postMessage({ id, type: "done", blob, summary });
    } catch (error) {
      const text = typeof error === "string" ? error : "";
      self.postMessage({ id, type: "error", error: text.startsWith("{") ? text : null });
    }
  });
};
