// A pass-through Worker for pkg-scripts/bench: serves the same static assets
// as the gate (www/) with no gate at all, as the throughput baseline.
export default {
  fetch(request, env) {
    return env.ASSETS.fetch(request);
  },
};
