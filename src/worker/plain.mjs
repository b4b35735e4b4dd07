// Streams a page that skips the HTML filter (its route is in
// SG_PLAIN_ROUTES, or its origin answered `Sg-Markup: none`), checking on
// the way that it really carries no gate markup. The bytes pass unchanged;
// if a chunk names any of `markers` (the gate's attribute names and the
// decision script's id, compared without ASCII case, also across chunk
// boundaries), that chunk and everything after it are withheld and the
// response is cut off: a marked block that the filter would have removed
// never reaches the visitor. A page of known length up to 256 KiB is
// checked whole before any of it is sent (and then sent as a whole, or cut
// off at once). Imported by src/worker/plain.rs, which passes the names
// from src/serve/markup.rs.
//
// Every marker contains "sg-" (checked here, else every byte is matched):
// the bytes are searched for "-" with the array's own indexOf, and only
// where "sg" (any case) comes before it is the text around matched against
// the markers. No decoding, no regular expression over the whole page.

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const DASH = 0x2d;
const LOWER = 0x20;
const G = 0x67;
const S = 0x73;

// A page of known length up to this size is read whole (natively) and
// checked before any of it is sent, then answered from memory: no JS
// stream at all, which is what costs most in workerd. Longer or unsized
// pages stream through the check.
const WHOLE_UP_TO = 256 * 1024;

// What the search needs from the markers, made once per isolate (the
// markers are constants; they are compared in case another list comes).
let prepared = null;
function prepare(markers) {
  const key = markers.join("\0");
  if (prepared?.key === key) return prepared;
  const offsets = markers.map((m) => m.toLowerCase().indexOf("sg-"));
  prepared = {
    key,
    found: new RegExp(markers.map(escape).join("|"), "i"),
    longest: Math.max(...markers.map((m) => m.length)),
    probed: offsets.every((o) => o >= 0),
    before: Math.max(...offsets),
    after: Math.max(...markers.map((m, i) => m.length - offsets[i])),
  };
  return prepared;
}

/** Resolves to the guarded response. */
export async function guardPlain(response, markers) {
  if (response.body === null) return response;
  const { found, longest, probed, before, after } = prepare(markers);
  const text = (bytes) => String.fromCharCode.apply(null, bytes);
  const names = (bytes) => {
    if (!probed) return found.test(new TextDecoder().decode(bytes));
    for (let i = bytes.indexOf(DASH, 2); i !== -1; i = bytes.indexOf(DASH, i + 1)) {
      if ((bytes[i - 1] | LOWER) !== G || (bytes[i - 2] | LOWER) !== S) continue;
      const at = i - 2;
      if (found.test(text(bytes.subarray(Math.max(0, at - before), Math.min(bytes.length, at + after))))) return true;
    }
    return false;
  };
  const refused = () => console.error(JSON.stringify({ sg: "gate_failure", reason: "markup_in_plain_page" }));
  const cut = () => new Error("gate markup in a page served without the filter");
  // The body is sent anew (and workerd may encode it): no length.
  const headers = new Headers(response.headers);
  headers.delete("Content-Length");
  const init = { status: response.status, statusText: response.statusText, headers };
  const length = Number(response.headers.get("Content-Length") ?? NaN);
  if (length >= 0 && length <= WHOLE_UP_TO) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (!names(bytes)) return new Response(bytes, init);
    refused();
    return new Response(new ReadableStream({ start(controller) { controller.error(cut()); } }), init);
  }
  let tail = new Uint8Array(0);
  const guard = new TransformStream({
    transform(data, controller) {
      const chunk = data instanceof Uint8Array ? data : new Uint8Array(data);
      const bytes = tail.length === 0 ? chunk : new Uint8Array(tail.length + chunk.length);
      if (bytes !== chunk) {
        bytes.set(tail);
        bytes.set(chunk, tail.length);
      }
      if (names(bytes)) {
        refused();
        controller.error(cut());
        return;
      }
      tail = bytes.slice(Math.max(0, bytes.length - (longest - 1)));
      controller.enqueue(chunk);
    },
  });
  response.body.pipeTo(guard.writable).catch(() => {});
  return new Response(guard.readable, init);
}
