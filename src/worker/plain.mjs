// Streams a page that skips the HTML filter (its route is in
// SG_PLAIN_ROUTES, or its origin answered `Sg-Markup: none`), checking on
// the way that it really carries no gate markup. The bytes pass unchanged;
// if a chunk names any of `markers` (the gate's attribute names and the
// decision script's id, compared without case, also across chunk
// boundaries), that chunk and everything after it are withheld and the
// response is cut off: a marked block that the filter would have removed
// never reaches the visitor. A page of known length up to 256 KiB is read
// whole and checked before any of it is sent. Imported by src/worker/plain.rs, which passes
// the names from src/serve/markup.rs.

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// Every marker contains "sg-": a page is searched for its four case
// variants with the string's own indexOf (much faster than a regular
// expression without case over the whole page), and only the text around a
// hit is matched against the markers.
const PROBE = "sg-";
const PROBES = ["sg-", "Sg-", "sG-", "SG-"];

/** Whether `text` names one of the markers (`found`, without case). */
function names(text, found, before, after) {
  for (const probe of PROBES) {
    for (let i = text.indexOf(probe); i !== -1; i = text.indexOf(probe, i + 1)) {
      if (found.test(text.slice(Math.max(0, i - before), i + after))) return true;
    }
  }
  return false;
}

// Pages up to this size that declare their length are read whole and
// checked once (native reads, one decode), which costs far less than a
// stream transformed chunk by chunk in JS; longer or unsized ones stream.
const WHOLE_UP_TO = 256 * 1024;

export function guardPlain(response, markers) {
  if (response.body === null) return response;
  const found = new RegExp(markers.map(escape).join("|"), "i");
  const keep = Math.max(...markers.map((m) => m.length)) - 1;
  const offsets = markers.map((m) => m.toLowerCase().indexOf(PROBE));
  // Markers without the probe (none today) are searched for directly.
  const probed = offsets.every((o) => o >= 0);
  const before = Math.max(...offsets);
  const after = Math.max(...markers.map((m, i) => m.length - offsets[i]));
  const hit = (text) => (probed ? names(text, found, before, after) : found.test(text));
  const refuse = (controller) => {
    console.error(JSON.stringify({ sg: "gate_failure", reason: "markup_in_plain_page" }));
    controller.error(new Error("gate markup in a page served without the filter"));
  };
  // The body is streamed anew (and workerd may encode it): no length.
  const headers = new Headers(response.headers);
  headers.delete("Content-Length");
  const init = { status: response.status, statusText: response.statusText, headers };
  const length = Number(response.headers.get("Content-Length") ?? NaN);
  if (length >= 0 && length <= WHOLE_UP_TO) {
    const whole = new ReadableStream({
      async start(controller) {
        const bytes = new Uint8Array(await response.arrayBuffer());
        if (hit(new TextDecoder().decode(bytes))) return refuse(controller);
        controller.enqueue(bytes);
        controller.close();
      },
    });
    return new Response(whole, init);
  }
  const decoder = new TextDecoder();
  let tail = "";
  const guard = new TransformStream({
    transform(chunk, controller) {
      const text = tail + decoder.decode(chunk, { stream: true });
      if (hit(text)) return refuse(controller);
      tail = text.slice(-keep);
      controller.enqueue(chunk);
    },
  });
  response.body.pipeTo(guard.writable).catch(() => {});
  return new Response(guard.readable, init);
}
