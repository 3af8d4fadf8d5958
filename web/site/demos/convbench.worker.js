// Convolution benchmark, worker side: one Python call per algorithm (direct first: the others are compared with
// its output), a progress message after each, so the page shows bars as they come.
export function handlers({ py, post }) {
  return {
    async cb_start([shape, runs]) {
      const info = await py("cb_info");
      const results = [];
      for (const algo of info.algos) {
        const r = await py("cb_run", shape, algo, runs);
        results.push(r);
        post({ type: "progress", name: "convbench", data: { info, results, done: false } });
        await new Promise((res) => setTimeout(res, 0));
      }
      post({ type: "progress", name: "convbench", data: { info, results, done: true } });
      return { info, results };
    },
  };
}
