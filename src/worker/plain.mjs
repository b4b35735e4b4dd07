// Streams a page that skips the HTML filter (its route is in
// SG_PLAIN_ROUTES, or its origin answered `Sg-Markup: none`), checking on
// the way that it really carries no gate markup. The bytes pass unchanged;
// if a chunk names any of `markers` (the gate's attribute names and the
// decision script's id, compared without case, also across chunk
// boundaries), that chunk and everything after it are withheld and the
// response is cut off: a marked block that the filter would have removed
// never reaches the visitor. Imported by src/worker/plain.rs, which passes
// the names from src/serve/markup.rs.

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export function guardPlain(response, markers) {
  if (response.body === null) return response;
  const found = new RegExp(markers.map(escape).join("|"), "i");
  const keep = Math.max(...markers.map((m) => m.length)) - 1;
  const decoder = new TextDecoder();
  let tail = "";
  const guard = new TransformStream({
    transform(chunk, controller) {
      const text = tail + decoder.decode(chunk, { stream: true });
      if (found.test(text)) {
        console.error(JSON.stringify({ sg: "gate_failure", reason: "markup_in_plain_page" }));
        controller.error(new Error("gate markup in a page served without the filter"));
        return;
      }
      tail = text.slice(-keep);
      controller.enqueue(chunk);
    },
  });
  response.body.pipeTo(guard.writable).catch(() => {});
  return new Response(guard.readable, response);
}
