// signalgate browser SDK: capture preferences reliably (an IndexedDB queue
// shared by every tab, one sender at a time), and decide locally with the
// gate's wasm build. No dependencies, no bundler. The API and its contract
// are documented in signalgate.d.ts, next to this file.
const LOCK = "signalgate-queue";
const LEASE = 60e3; // an entry marked in flight longer than this is sent again (the origin's claim lapses after 60 s)
const TIMEOUT = 30e3; // one request; shorter than LEASE
const KEEP_DONE = 36e5; // outcomes kept for the tab that captured the choice
const MAX_LATE = 29 * 864e5; // the origin takes `captured_at` up to 30 days back
const PAGE = /^\/[A-Za-z0-9/_.~-]{0,199}$/;
// Replies to POST /v1/signals that refuse the choice itself; any other
// failure (network, 5xx, 401/403/404, 408, 429, 409 idempotency_in_flight) is retried.
const REFUSED = [400, 409, 410, 413, 422];

const nowS = () => Math.floor(Date.now() / 1000);
const enc = encodeURIComponent;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rid = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
const online = () => globalThis.navigator?.onLine !== false;
const withLock = (fn) => (globalThis.navigator?.locks?.request ? navigator.locks.request(LOCK, () => fn(true)) : fn(false));

function fail(code, status, detail, problem) {
  const e = new Error(detail || code);
  e.name = "SignalgateError";
  e.code = code;
  e.status = status;
  e.detail = detail;
  if (problem) e.problem = problem;
  if (problem?.field) e.field = problem.field;
  return e;
}
// A failure as stored with a choice and sent to other tabs: the problem document, if any, and code, status, detail.
const brief = (e) => ({ ...e.problem, code: e.code, status: e.status, detail: e.message });
const fromBrief = (p) => fail(p.code, p.status, p.detail, p.type ? p : null);
const refused = (e) => REFUSED.includes(e.status) && e.code !== "idempotency_in_flight";
const transient = (e) => !e.status || e.status >= 500 || [408, 425, 429].includes(e.status) || e.code === "idempotency_in_flight";

// IndexedDB (database `name`: stores queue, done, kv), or memory when there is none.
async function openStore(name) {
  const db = await new Promise((ok) => {
    try {
      const r = indexedDB.open(name, 1);
      r.onupgradeneeded = () => {
        for (const s of ["queue", "done"]) r.result.createObjectStore(s, { keyPath: "id" });
        r.result.createObjectStore("kv");
      };
      r.onsuccess = () => { r.result.onversionchange = () => r.result.close(); ok(r.result); };
      r.onerror = () => ok(null);
    } catch { ok(null); }
  });
  const mem = { queue: new Map(), done: new Map(), kv: new Map() };
  const memOps = {
    get: async (s, k) => mem[s].get(k), all: async (s) => [...mem[s].values()], clear: async (s) => mem[s].clear(),
    put: async (s, v, k) => { mem[s].set(k ?? v.id, structuredClone(v)); }, del: async (s, k) => { mem[s].delete(k); },
  };
  return (names, mode, fn) => {
    if (!db) return fn(memOps);
    return new Promise((resolve, reject) => {
      const t = db.transaction(names, mode), st = (s) => t.objectStore(s), out = {};
      const q = (r) => new Promise((ok, ko) => { r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
      Promise.resolve(fn({
        get: (s, k) => q(st(s).get(k)), all: (s) => q(st(s).getAll()), clear: (s) => q(st(s).clear()),
        put: (s, v, k) => q(st(s).put(v, k)), del: (s, k) => q(st(s).delete(k)),
      })).then((v) => { out.v = v; }, (e) => { try { t.abort(); } catch { /* done already */ } reject(e); });
      t.oncomplete = () => resolve(out.v);
      t.onerror = t.onabort = () => reject(t.error || new Error("IndexedDB transaction aborted"));
    });
  };
}

function toBody(c, channel) {
  const bad = (d) => fail("invalid_choice", 0, d);
  if (!c || typeof c !== "object") throw bad("a choice is an object");
  for (const f of ["signal_type", "value", "consent_reference"]) if (typeof c[f] !== "string" || !c[f]) throw bad(`\`${f}\` is required`);
  if (!c.purpose === !c.purposes) throw bad("give exactly one of `purpose` and `purposes`");
  const sc = c.source_context || {};
  const page = sc.page ?? globalThis.location?.pathname;
  const body = {
    signal_type: c.signal_type, value: c.value, consent_reference: c.consent_reference,
    source_context: { channel: sc.channel || channel, ...(sc.ui ? { ui: sc.ui } : {}), ...(PAGE.test(page) ? { page } : {}) },
    // When the person chose: a choice delivered late never replaces a newer one.
    captured_at: nowS(),
  };
  if (c.purposes) body.purposes = [...c.purposes]; else body.purpose = c.purpose;
  for (const f of ["legal_basis", "scopes"]) if (c[f] != null) body[f] = c[f];
  return body;
}

class Signalgate {
  constructor(o, store) {
    this._o = o;
    this._s = store;
    this._base = (o.origin ? String(o.origin) : "").replace(/\/+$/, "");
    this._channel = o.channel || "web";
    this._gpc = o.gpc ?? globalThis.navigator?.globalPrivacyControl === true;
    this._wasm = o.wasm || new URL("./pkg/signalgate.js", import.meta.url);
    this._h = new Map();
    this._chain = Promise.resolve();
    this._bundle = null;
    this._post = () => {};
  }

  get gpc() { return this._gpc; }

  async _init() {
    try {
      [this._bundle = null, this._session] = await this._s(["kv"], "readonly", async (o) => [await o.get("kv", "bundle"), await o.get("kv", "session")]);
    } catch { /* nothing stored */ }
    if (typeof BroadcastChannel === "function") {
      const bc = new BroadcastChannel("signalgate");
      this._post = (m) => { try { bc.postMessage(m); } catch { /* closed */ } };
      bc.onmessage = ({ data: m }) => {
        if (m.t === "settled") this._settled(m.d, m.choice, true);
        else if (m.t === "queued") { this._emit("queued", { ...m.d, remote: true }); this._emit("change", { reason: "queued" }); }
        else if (m.t === "bundle") this._takeBundle(m.b, true);
        else if (m.t === "erased") this._reset();
      };
    }
    globalThis.addEventListener?.("online", () => this.flush());
    globalThis.document?.addEventListener("visibilitychange", () => this.flush());
    this.flush();
    if (this._session) this._checkExpiring();
  }

  // --- HTTP -------------------------------------------------------------
  async _fetch(method, path, { body, key, text, keepalive } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (key) headers["Idempotency-Key"] = key;
    // Browsers drop Sec-* headers set by scripts (they send their own
    // Sec-GPC when GPC is on); other runtimes pass it on.
    if (this._gpc) headers["Sec-GPC"] = "1";
    let r;
    try {
      r = await fetch(this._base + path, {
        method, headers, keepalive, cache: "no-store", signal: AbortSignal.timeout?.(TIMEOUT),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw fail("network", 0, `the origin could not be reached (${e.message})`);
    }
    let data = await r.text().catch(() => "");
    if ((!text || !r.ok) && /json/.test(r.headers.get("Content-Type") || "")) {
      try { data = JSON.parse(data); } catch { data = null; }
    }
    if (r.ok) return data;
    const p = data && typeof data === "object" && data.code ? data : null;
    throw fail(p ? p.code : `http_${r.status}`, r.status, p ? p.detail : `the origin answered ${r.status}`, p);
  }

  // One request of the visitor's own (not queued); idempotent ones retried on transient failures.
  async _act(method, path, body, { key = true, retry = true, text } = {}) {
    const k = key ? rid() : undefined;
    for (let n = 1; ; n++) {
      try {
        const r = await this._fetch(method, path, { body, key: k, text });
        if (method !== "GET") {
          if (r?.bundle) await this._takeBundle(r.bundle);
          this._emit("change", { reason: path });
        }
        return r;
      } catch (e) {
        if (!retry || n >= 3 || !transient(e)) throw e;
        await sleep(this._delay(n));
      }
    }
  }

  _delay(n) {
    const b = this._o.backoff || {};
    const d = Math.min(b.max ?? 3e5, (b.base ?? 1e3) * 2 ** (n - 1));
    return d / 2 + (Math.random() * d) / 2;
  }

  // --- events -----------------------------------------------------------
  on(ev, fn) {
    if (!this._h.has(ev)) this._h.set(ev, new Set());
    const set = this._h.get(ev);
    set.add(fn);
    if (ev === "expiring" && this._fired && this._expiring.length) queueMicrotask(() => set.has(fn) && fn(this._expiring));
    return () => { set.delete(fn); };
  }

  _emit(ev, d) {
    for (const fn of this._h.get(ev) || []) {
      try { fn(d); } catch (e) { setTimeout(() => { throw e; }); }
    }
  }

  // --- the queue ----------------------------------------------------------
  async capture(choice) {
    const body = toBody(choice, this._channel);
    const id = rid();
    await this._s(["queue"], "readwrite", (o) => o.put("queue", { id, key: id, body, created: Date.now(), attempts: 0, next: 0, inflight: 0 }));
    this._emit("change", { reason: "captured", id });
    if (online()) {
      await this.flush();
      const d = await this._s(["done"], "readonly", (o) => o.get("done", id));
      if (d) {
        if (!d.ok) throw fromBrief(d.problem);
        return { id, queued: false, delivered: true, reply: d.reply };
      }
    }
    const q = await this._s(["queue"], "readonly", (o) => o.get("queue", id));
    const detail = { id, choice: body, problem: q?.problem };
    this._emit("queued", detail);
    this._post({ t: "queued", d: detail });
    this._emit("change", { reason: "queued", id });
    return { id, queued: true, delivered: false, ...(q?.problem ? { problem: q.problem } : {}) };
  }

  async pending() {
    const q = await this._s(["queue"], "readonly", (o) => o.all("queue"));
    return q.sort((a, b) => a.created - b.created).map((e) => ({
      id: e.id, choice: e.body, created_at: e.created, attempts: e.attempts, next_attempt_at: e.next,
      in_flight: !!e.inflight, ...(e.problem ? { problem: e.problem } : {}),
    }));
  }

  flush() {
    return (this._chain = this._chain.then(() => withLock((locked) => this._pass(locked))).catch(() => {}));
  }

  // One pass over the queue, oldest first, while this tab holds the lock
  // (or, without Web Locks, over the entries no other tab has in flight).
  async _pass(locked) {
    let stop = 0;
    try {
      await this._s(["done"], "readwrite", async (o) => {
        for (const d of await o.all("done")) if (Date.now() - d.at > KEEP_DONE) await o.del("done", d.id);
      });
      while (online()) {
        const t = Date.now();
        const e = (await this._s(["queue"], "readonly", (o) => o.all("queue"))).sort((a, b) => a.created - b.created)
          .find((x) => x.next <= t && (locked || !x.inflight || t - x.inflight > LEASE));
        if (!e) break;
        stop = await this._send(e.id, locked);
        if (stop) break;
      }
    } finally {
      await this._schedule(stop);
    }
  }

  // Sends one entry; returns 0 to go on, or when to try again after a retryable failure.
  async _send(id, locked) {
    const put = (e) => this._s(["queue"], "readwrite", async (o) => { if (await o.get("queue", id)) await o.put("queue", e); });
    // Marked in flight before it is sent: a tab that dies mid-request leaves
    // it to be sent again with the same key, which the origin answers once.
    const e = await this._s(["queue"], "readwrite", async (o) => {
      const x = await o.get("queue", id);
      if (!x || (!locked && x.inflight && Date.now() - x.inflight <= LEASE)) return null;
      x.inflight = Date.now();
      x.attempts++;
      await o.put("queue", x);
      return x;
    });
    if (!e) return 0;
    let reply, err;
    try {
      await this._ensureSession();
      reply = await this._fetch("POST", "/v1/signals", { body: e.body, key: e.key, keepalive: true });
    } catch (x) {
      err = x;
    }
    if (err && !refused(err)) {
      Object.assign(e, { inflight: 0, next: Date.now() + this._delay(e.attempts), problem: brief(err) });
      await put(e);
      return e.next;
    }
    if (err?.field === "captured_at" && e.body.captured_at && Date.now() - e.created < MAX_LATE) {
      // This browser's clock is off: send the choice as made now, under a
      // new key (the origin wrote nothing for the refused one).
      delete e.body.captured_at;
      Object.assign(e, { key: `${e.key}.now`, inflight: 0, next: 0 });
      await put(e);
      return 0;
    }
    const d = { id, at: Date.now(), ok: !err, reply, problem: err && brief(err) };
    await this._s(["queue", "done"], "readwrite", async (o) => { await o.del("queue", id); await o.put("done", d); });
    this._settled(d, e.body);
    return 0;
  }

  // A session before the first capture (POST /v1/session, once per page
  // load; it answers the session the browser has, or starts one): a capture
  // sent again after a lost reply then carries the cookie and reaches the
  // same subject, whose idempotency key answers with the first reply.
  // Unreachable or 5xx: the capture waits and is retried; any other refusal
  // (an origin without the route) lets the capture go as before.
  _ensureSession() {
    return (this._sess ||= this._fetch("POST", "/v1/session", { body: {} }).then(
      () => this._setSession(true),
      (x) => { if (x.status === 0 || x.status >= 500) { this._sess = null; throw x; } },
    ));
  }

  _settled(d, choice, remote) {
    const detail = { id: d.id, choice, ...(remote ? { remote } : {}) };
    if (d.ok) {
      this._setSession(true);
      this._takeBundle(d.reply?.bundle, remote);
      this._emit("delivered", { ...detail, reply: d.reply });
    } else {
      this._emit("failed", { ...detail, error: fromBrief(d.problem) });
    }
    if (!remote) this._post({ t: "settled", d, choice });
    this._emit("change", { reason: d.ok ? "delivered" : "failed", id: d.id });
  }

  async _schedule(after) {
    clearTimeout(this._timer);
    if (!online()) return; // the online event flushes
    const q = await this._s(["queue"], "readonly", (o) => o.all("queue")).catch(() => []);
    if (!q.length) return;
    const at = Math.max(after || 0, Math.min(...q.map((e) => Math.max(e.next, e.inflight ? e.inflight + LEASE : 0))));
    this._timer = setTimeout(() => this.flush(), Math.min(Math.max(at - Date.now(), 50), 2 ** 31 - 1));
  }

  // Drops queued choices made before `before` that `pred` selects (the person withdrew them).
  async _drop(pred, code, detail, before) {
    const gone = await this._s(["queue", "done"], "readwrite", async (o) => {
      const out = [];
      for (const e of await o.all("queue")) {
        if (e.created > before || !pred(e.body)) continue;
        const d = { id: e.id, at: Date.now(), ok: false, problem: { code, status: 0, detail } };
        await o.del("queue", e.id);
        await o.put("done", d);
        out.push([d, e.body]);
      }
      return out;
    });
    for (const [d, body] of gone) this._settled(d, body);
  }

  // --- the bundle -----------------------------------------------------------
  _setSession(v) {
    if (v === false) this._sess = null; // forgotten: the next capture asks for a session again
    if (this._session === v) return;
    this._session = v;
    this._s(["kv"], "readwrite", (o) => o.put("kv", v, "session")).catch(() => {});
  }

  async _takeBundle(b, remote) {
    const cur = this._bundle;
    if (b === undefined || (b === null && !cur)) return;
    if (b && (!b.token || b.token === cur?.token || (cur && b.issued_at < cur.issued_at))) return;
    this._bundle = b;
    if (!remote) {
      this._post({ t: "bundle", b });
      await this._s(["kv"], "readwrite", (o) => o.put("kv", b, "bundle")).catch(() => {});
    }
    this._emit("bundle", b);
    this._emit("change", { reason: "bundle" });
    this._checkExpiring();
  }

  // The current token, or null. Without one (or expired) asks POST /v1/bundles,
  // once per page load, and only for a browser known to have a session (its
  // cookie is HttpOnly: known once a capture was delivered or signals() answered).
  async _token() {
    const ok = () => (this._bundle && this._bundle.expires_at - 60 > nowS() ? this._bundle.token : null);
    if (!ok() && this._session === true) {
      this._fresh ||= this._fetch("POST", "/v1/bundles", { body: {} }).then(
        (r) => { this._setSession(true); return this._takeBundle(r.bundle); },
        (e) => { if (e.status === 401) this._setSession(false); },
      );
      await this._fresh;
    }
    return ok();
  }

  _gate() {
    return (this._g ||= Promise.all([
      import(String(this._wasm)),
      this._fetch("GET", "/v1/policy", { text: true }),
      this._fetch("GET", "/.well-known/jwks.json", { text: true }),
    ]).then(async ([m, policy, jwks]) => {
      await m.default();
      return { m, policy: JSON.parse(policy), gate: new m.Gate(policy, jwks, { audience: this._o.audience || "signalgate" }) };
    }).catch((e) => {
      this._g = null;
      throw e.code ? e : fail("gate_unavailable", 0, `the gate could not be loaded (${e.message})`);
    }));
  }

  _ctx(c, g, token) {
    c ||= {};
    let tenant = this._o.tenant || g.policy.tenant;
    if (!tenant && token) try { tenant = g.m.inspectBundle(token).claims.ten; } catch { /* decided as no tenant */ }
    return {
      purposes: c.purposes || ["personalization"], channel: c.channel || this._channel,
      tenant: tenant || "", scope: this._o.scope || "web", gpc: this._gpc || c.gpc === true,
    };
  }

  // The values of the visitor's own bundle by signal id (the gate verified it).
  _values(g, token) {
    try { return new Map(g.m.inspectBundle(token).claims.sig.map((s) => [s.id, s.val])); } catch { return new Map(); }
  }

  // --- decisions --------------------------------------------------------------
  // The gate's `decide`/`decideForPage`, or their `...Async` forms where the
  // build has them (signatures checked by WebCrypto's Ed25519; same results).
  _run(g, name, t, c) {
    return g.gate[`${name}Async`] ? g.gate[`${name}Async`](t, c) : g.gate[name](t, c);
  }

  async decide(context) {
    const [g, t] = await Promise.all([this._gate(), this._token()]);
    return this._run(g, "decideForPage", t, this._ctx(context, g, t));
  }

  async explain(context) {
    const [g, t] = await Promise.all([this._gate(), this._token()]);
    const c = this._ctx(context, g, t), d = await this._run(g, "decide", t, c), P = g.policy, vals = t ? this._values(g, t) : new Map();
    return {
      context: { purposes: c.purposes, channel: c.channel, gpc: c.gpc },
      decision: await this._run(g, "decideForPage", t, c),
      tier: d.tier, freshness: d.freshness, confidence: d.confidence ?? null, policy_version: d.policy_version,
      expiring: d.expiring,
      ...(d.error ? { error: { code: d.error.code } } : {}),
      signals: d.reasons.signals.map((r) => {
        const value = vals.get(r.signal) ?? null, category = P.classes?.[r.class]?.categories?.[value];
        return { signal: r.signal, class: r.class, value, ...(category ? { category } : {}), used_for: r.used_for, withheld: r.withheld };
      }),
      segments: d.reasons.segments.map((r) => ({
        segment: r.segment, token: P.segments?.[r.segment]?.token, purpose: P.segments?.[r.segment]?.purpose, outcome: r.outcome,
      })),
    };
  }

  async expiring() {
    let list = [];
    const t = await this._token();
    if (t) {
      try {
        const g = await this._gate(), vals = this._values(g, t);
        const c = this._ctx({ purposes: Object.keys(g.policy.purposes || {}) }, g, t);
        list = (await this._run(g, "decide", t, c)).expiring.map((e) => (vals.has(e.signal) ? { ...e, value: vals.get(e.signal) } : e));
      } catch {
        // No local gate: the origin's own freshness.
        list = (await this.signals()).signals.filter((s) => s.freshness?.state === "expiring")
          .map((s) => ({ signal: s.signal_id, class: s.signal_type, deadline: s.freshness.usable_until, value: s.value }));
      }
    }
    this._expiring = list;
    if (list.length && !this._fired) {
      this._fired = true;
      this._emit("expiring", list);
    }
    return list;
  }

  _checkExpiring() {
    if (!this._fired) this.expiring().catch(() => {});
  }

  // --- the visitor's data -------------------------------------------------------
  async signals() {
    try {
      const r = await this._fetch("GET", "/v1/signals");
      this._setSession(true);
      return r;
    } catch (e) {
      if (e.status !== 401) throw e;
      this._setSession(false);
      return { subject_id: null, signals: [], consents: [] };
    }
  }

  reconfirm(id) {
    return this._act("POST", `/v1/signals/${enc(id)}/reconfirm`, { source_context: { channel: this._channel } });
  }

  _revoke(id) {
    return this._act("POST", `/v1/consents/${enc(id)}/revoke`, { justification: "user_request", source_context: { channel: this._channel } });
  }

  // Under the queue lock, so that no tab sends a choice while consent is withdrawn.
  revoke(id) {
    const at = Date.now();
    return withLock(async () => {
      const r = await this._revoke(id);
      await this._drop((b) => b.consent_reference === id, "consent_revoked", "its consent was revoked before it was sent", at);
      return r;
    });
  }

  revokeAll() {
    const at = Date.now();
    return withLock(async () => {
      const out = [];
      for (const c of (await this.signals()).consents || []) if (c.status === "granted") out.push(await this._revoke(c.consent_id));
      await this._drop(() => true, "consent_revoked", "every consent was revoked before it was sent", at);
      return out;
    });
  }

  async deleteSignal(id) {
    const r = await this._act("DELETE", `/v1/signals/${enc(id)}`, {}, { key: false, retry: false });
    // The old bundle still carries the signal: a fresh one (also the cookie).
    await this._fetch("POST", "/v1/bundles", { body: {} }).then((x) => this._takeBundle(x.bundle), () => this._takeBundle(null));
    return r;
  }

  evidence(format = "json") {
    return this._act("GET", `/v1/subjects/me/evidence?format=${enc(format)}`, undefined, { key: false, text: format !== "json" });
  }

  erase() {
    const at = Date.now();
    return withLock(async () => {
      let r = null;
      try {
        r = await this._act("POST", "/v1/subjects/me/delete", { erase: true }, { key: false });
      } catch (e) {
        if (e.status !== 401) throw e; // 401: this browser has no subject at the origin
      }
      await this._drop(() => true, "erased", "the visitor asked to be erased before it was sent", at);
      await this._s(["done", "kv"], "readwrite", async (o) => { await o.clear("done"); await o.clear("kv"); await o.put("kv", false, "session"); });
      this._post({ t: "erased" });
      this._reset();
      return r;
    });
  }

  _reset() {
    this._session = false;
    this._sess = null;
    this._expiring = [];
    if (this._bundle) {
      this._bundle = null;
      this._emit("bundle", null);
    }
    this._emit("change", { reason: "erased" });
  }
}

/** Opens the queue, starts delivering what earlier pages left, and resolves to the SDK. */
export async function createSignalgate(options = {}) {
  const sg = new Signalgate(options, await openStore(options.db || "signalgate"));
  await sg._init();
  return sg;
}
