// The JS the Rust bindings call (src/js/glue.rs), one ES module for every
// build. wasm-bindgen copies it into each build's snippets/; for the Node
// build (CommonJS, which `require()`s it) pkg-scripts/build turns its one
// `export { ... };` line into `module.exports = { ... };`, so keep the
// exports in that single line and use no other import or export.
//
// - sgBuild(text, ops, nums): a value encoded by `Ops` (src/js/convert.rs),
//   built in one call.
// - sgSnapshot(ctx), sgSameContext(snapshot, ctx): a copy of a context
//   object's own members as the gate last converted it, and whether another
//   context object has exactly those members with the same values (===,
//   `purposes` element by element), so that its conversion can be reused.
function sgBuild(text, ops, nums) {
  const s = text.split("\u0000");
  let p = 0;
  let n = 0;
  function value() {
    const op = ops[p++];
    const tag = op & 7;
    if (tag === 0) return s[op >>> 3];
    if (tag === 2) {
      const o = {};
      for (let i = op >>> 3; i > 0; i--) {
        const key = s[ops[p++]];
        o[key] = value();
      }
      return o;
    }
    if (tag === 1) {
      const a = [];
      for (let i = op >>> 3; i > 0; i--) a.push(value());
      return a;
    }
    if (tag === 3) return nums[n++];
    if (tag === 4) return null;
    return tag === 5;
  }
  return value();
}

function sgSnapshot(ctx) {
  try {
    if (typeof ctx !== "object" || ctx === null || Object.getPrototypeOf(ctx) !== Object.prototype) return undefined;
    const keys = Object.keys(ctx);
    const values = Object.create(null);
    for (const k of keys) {
      const d = Object.getOwnPropertyDescriptor(ctx, k);
      if (d === undefined || !("value" in d)) return undefined;
      values[k] = d.value;
    }
    const purposes = values.purposes;
    if (!Array.isArray(purposes) || Object.getPrototypeOf(purposes) !== Array.prototype) return undefined;
    return { keys, values, purposes: purposes.slice() };
  } catch {
    return undefined;
  }
}

function sgSameContext(last, ctx) {
  try {
    return sameContext(last, ctx);
  } catch {
    return false;
  }
}

function sameContext(last, ctx) {
  if (last === undefined || typeof ctx !== "object" || ctx === null || Object.getPrototypeOf(ctx) !== Object.prototype) return false;
  const keys = Object.keys(ctx);
  if (keys.length !== last.keys.length) return false;
  for (const k of keys) {
    if (!(k in last.values)) return false;
    // Never a getter's value: reading it could change what it gives next.
    const d = Object.getOwnPropertyDescriptor(ctx, k);
    if (d === undefined || !("value" in d)) return false;
    const v = d.value;
    if (k !== "purposes") {
      if (v !== last.values[k]) return false;
      continue;
    }
    if (!Array.isArray(v) || Object.getPrototypeOf(v) !== Array.prototype || v.length !== last.purposes.length) return false;
    for (let i = 0; i < v.length; i++) if (v[i] !== last.purposes[i]) return false;
  }
  return true;
}
export { sgBuild, sgSnapshot, sgSameContext };
