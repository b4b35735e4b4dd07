// The filter anchor for pkg-scripts/bench: the pass-through Worker plus
// workerd's HTMLRewriter with the gate's selectors and handlers that never
// change the page. No gate, no decision: what streaming a page through the
// runtime's rewriter costs by itself.
const keep = { element(e) { e.getAttribute("data-sg-segment") ?? e.getAttribute("data-sg-tier"); } };

export default {
  async fetch(request, env) {
    const resp = await env.ASSETS.fetch(request);
    if (!(resp.headers.get("Content-Type") || "").toLowerCase().startsWith("text/html")) return resp;
    return new HTMLRewriter()
      .on("[data-sg-segment]", keep)
      .on("[data-sg-tier]", keep)
      .on("script#sg-decision", keep)
      .on("head", keep)
      .onDocument({ end() {} })
      .transform(resp);
  },
};
