// The image pipeline's Web Worker. It loads the app's own WASM module and
// hands each file to its `pipelineWorkerProcess` (src/client/worker.rs); all
// of the logic is there. Jobs run one at a time, in arrival order, which
// bounds memory on a phone.
import init, { pipelineWorkerProcess } from "/pkg/clinical-images.js";

const ready = init({ module_or_path: "/pkg/clinical-images.wasm" });
let queue = Promise.resolve();

self.onmessage = (event) => {
  const { id, file, targets } = event.data;
  queue = queue.then(async () => {
    try {
      await ready;
      const progress = (fraction) => self.postMessage({ id, type: "progress", fraction });
      const { blob, summary } = await pipelineWorkerProcess(file, targets, progress);
      self.postMessage({ id, type: "done", blob, summary });
    } catch (error) {
      const text = typeof error === "string" ? error : "";
      self.postMessage({ id, type: "error", error: text.startsWith("{") ? text : null });
    }
  });
};
