// docs/openapi.json, the origin's OpenAPI 3.1 description, and the validator
// the end-to-end tests use (tests/js/openapi.mjs): the document is well
// formed, every $ref resolves, its paths and methods are exactly the routes
// of the origin's router (src/origin/api/mod.rs, with the actions its arms
// dispatch on and the webhook sub-router of src/origin/api/admin.rs), the
// 405s and `Allow` headers are the router's, each operation's security and
// role permission are those of src/origin/api/subject.rs and identity.rs,
// every problem code of src/ledger/error.rs and every request field the code
// names is described, the evidence pack schema is the copy of
// docs/evidence-pack.schema.json, Ajv compiles every schema, and the
// validator accepts good replies (JSON and text) and refuses bad ones.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { checkResponse, checkRequest, findOperation, isJsonMediaType, loadSpec, newAjv, SPEC_FILE } from "./openapi.mjs";

const ROOT = join(SPEC_FILE, "..", "..");
const spec = JSON.parse(readFileSync(SPEC_FILE, "utf8"));
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const operations = Object.entries(spec.paths).flatMap(([path, item]) =>
  METHODS.filter((m) => item[m]).map((method) => ({ path, method, op: item[method], item })));

const pointerGet = (doc, ref) =>
  ref.slice(2).split("/").map((t) => decodeURIComponent(t).replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((o, t) => (o == null ? undefined : o[t]), doc);
const deref = (obj) => (obj?.$ref ? deref(pointerGet(spec, obj.$ref)) : obj);

/** Every `$ref` in the document, with where it is. */
function refs(node, at = "#", out = []) {
  if (Array.isArray(node)) node.forEach((v, i) => refs(v, `${at}/${i}`, out));
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") out.push({ at, ref: v });
      else refs(v, `${at}/${k}`, out);
    }
  }
  return out;
}

// ---- Realistic replies, as the origin writes them ----

const B = (n, c = "A") => c.repeat(n);
const problem = (code, status, title, detail, field) => ({
  type: `urn:signalgate:problem:${code}`, title, status, detail, code, ...(field ? { field } : {}),
});
const signal = {
  signal_id: `sig_${B(16, "x")}`, version: 1, signal_type: "language", value: "de", source_channel: "web",
  capture_context: { channel: "web", ui: "preference-centre", page: "/account" },
  captured_at: 1_800_000_000, expires_at: 1_831_536_000, reconfirmed_at: null, consent_id: "c-lang",
  consent_status: "granted", provenance_hash: B(22, "p"), status: "active", value_erased: false,
};
const listed = { ...signal, freshness: { state: "unknown" }, category: "german", purposes: ["personalization"] };
const merge = {
  merge_id: `m_${B(16, "m")}`, source: "u-1", target: "u-2", evidence: ["device", "verified_email"], confidence_bp: 9750,
  state: "merged", requested_by: "k_AAAAAAAAAAA", requested_at: 1_800_000_000, decided_by: null, decided_at: null, note: null,
};
const text = (status, body, ct) => ({ status, headers: new Headers({ "content-type": ct }), text: body });
const freshness = { state: "fresh", usable_until: 1_831_536_000, reconfirm_from: 1_830_326_400, expires_at: 1_831_536_000 };
const bundle = {
  token: "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJ2IjoxfQ.c2lnbmF0dXJl", bundle_id: `b_${B(16, "b")}`,
  issued_at: 1_800_000_000, expires_at: 1_800_086_400, signals: 1, omitted: 0, bytes: 58,
};
const submitReply = {
  subject_id: `s_${B(22, "s")}`, signal, freshness,
  decision: { tier: "curated", segments: ["sgt_9b2a47d1c8"], freshness: "fresh", expiring: [] },
  bundle,
};
const json = (status, body, ct = "application/json") => ({ status, headers: new Headers({ "content-type": ct }), text: JSON.stringify(body) });
const problemReply = (p) => json(p.status, p, "application/problem+json");

/** The promise rejects, with a message matching `re`. */
async function rejects(promise, re) {
  await assert.rejects(promise, (e) => {
    assert.match(e.message, re);
    return true;
  });
}

// ---- The document ----

test("it is OpenAPI 3.1.0 with the 2020-12 dialect, an info block and the three security schemes", () => {
  assert.equal(spec.openapi, "3.1.0");
  assert.equal(spec.jsonSchemaDialect, "https://json-schema.org/draft/2020-12/schema");
  assert.equal(spec.info.version, "0.1.0");
  assert.ok(spec.info.title && spec.info.description.length > 100);
  const s = spec.components.securitySchemes;
  assert.deepEqual([s.apiKey.type, s.apiKey.scheme], ["http", "bearer"]);
  assert.deepEqual([s.session.type, s.session.in, s.session.name], ["apiKey", "cookie", "__Host-sg_session"]);
  assert.deepEqual([s.admin.type, s.admin.scheme], ["http", "bearer"]);
  for (const name of ["Problem", "Signal", "Freshness", "BundleSummary", "Decision", "SubmitRequest", "ActionRequest",
    "CaptureContext", "SubmitReply", "ReconfirmReply", "RevokeReply", "BundleReply", "ListReply", "Feed", "JwkSet",
    "ApiKeyReply", "VerifyReply", "ListedSignal", "IntakeRequest", "IntakeReply", "IntakePendingReply", "DeleteSignalRequest",
    "DeleteSignalReply", "SubjectDeleteRequest", "SubjectDeleteReply", "SubjectDeleteDeferredReply", "HistoryReply", "EvidencePack",
    "EvidenceJws", "EvidenceHtml", "MergeRecord", "MergeRequest", "MergeCarriedOut", "MergeReviewQueued", "MergeList", "SplitReply",
    "LockRequest", "LockReply", "MaintainReply", "IntakeQueue", "IntakeMapRequest", "WebhookEndpointRequest", "WebhookSecretReply",
    "WebhookEndpointList", "DeliveryList", "Metrics", "PrometheusText"]) {
    assert.ok(spec.components.schemas[name], `components.schemas.${name}`);
  }
});

test("every $ref resolves", () => {
  const all = refs(spec);
  assert.ok(all.length > 50);
  for (const { at, ref } of all) {
    assert.ok(ref.startsWith("#/"), `${at}: external $ref ${ref}`);
    assert.notEqual(pointerGet(spec, ref), undefined, `${at}: $ref ${ref} does not resolve`);
  }
});

// ---- The router, read from its source ----

const API = join(ROOT, "src", "origin", "api");
const source = (file) => readFileSync(join(API, file), "utf8");
const ROUTER = source("mod.rs");

/** The text of `fn name` in `src`, to its closing brace at the start of a line. */
function fnText(src, name) {
  const start = src.search(new RegExp(`\\bfn ${name}\\b`));
  assert.ok(start >= 0, `fn ${name}`);
  const end = src.indexOf("\n}\n", start);
  assert.ok(end > start, `the end of fn ${name}`);
  return src.slice(start, end + 2);
}

/**
 * A slice pattern's segments: `"v1", "subjects", _, "delete" | "history"` ->
 * [["v1"], ["subjects"], null, ["delete", "history"]] (literals as their
 * alternatives, `_` as null, a binding as its name), with `name @ ..` as
 * { rest: name } last.
 */
function patternSegments(text) {
  return text.split(",").map((t) => t.trim()).filter(Boolean).map((t) => {
    if (/^"[^"]*"(\s*\|\s*"[^"]*")*$/.test(t)) return [...t.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    const rest = t.match(/^(\w+) @ \.\.$/);
    if (rest) return { rest: rest[1] };
    assert.match(t, /^(_|[a-z_][a-z0-9_]*)$/, `a segment pattern: ${t}`);
    return t === "_" ? null : t;
  });
}

/** Every concrete path of segment patterns (alternatives expanded, bindings as `{}`). */
function expand(segs) {
  return segs.reduce((paths, seg) => paths.flatMap((p) => (Array.isArray(seg) ? seg.map((lit) => `${p}/${lit}`) : [`${p}/{}`])), [""]);
}

const METHOD_ARM = /\(\s*(?:"(GET|POST|PUT|PATCH|DELETE)"|(_))\s*,\s*\[([^\]]*)\]\s*\)/g;
const NOT_ALLOWED_ARM = /\(\s*_,\s*((?:\|?\s*\[[^\]]*\]\s*)+),?\s*\)\s*=>\s*\{?\s*Err\(LedgerError::MethodNotAllowed/;

/**
 * The routes `async fn route` in src/origin/api/mod.rs answers: { method,
 * path (bindings as `{}`), kind (subject, identity, admin, public, session),
 * op (the SubjectOp of subject routes) }. An arm that binds a segment and
 * dispatches on it (`match *action { "verify" => ..., _ => ... }`) gives one
 * route per literal it accepts; an arm `(_, [..., rest @ ..]) => module::fun(..., rest, ...)`
 * gives the routes of that function's own `match (method, path)`.
 */
function routerRoutes() {
  const route = fnText(ROUTER, "route");
  const notAllowed = route.search(NOT_ALLOWED_ARM);
  assert.ok(notAllowed > 0, "the 405 arm of the router");
  const arms = [...route.slice(0, notAllowed).matchAll(METHOD_ARM)];
  const bodyOf = (i) => route.slice(arms[i].index + arms[i][0].length, i + 1 < arms.length ? arms[i + 1].index : notAllowed);
  const out = [];
  const kindOf = (body) => {
    const op = body.match(/subject_call\([^)]*SubjectOp::(\w+)/);
    if (op) return { kind: "subject", op: op[1] };
    if (/\bidentity::\w+\(/.test(body)) return { kind: "identity" };
    if (/\badmin::\w+\(/.test(body)) return { kind: "admin" };
    if (/\b(clear_session|session::session)\(/.test(body)) return { kind: "session" };
    if (/\b(public|feed)\(/.test(body)) return { kind: "public" };
    return assert.fail(`an arm the test does not know: ${body.slice(0, 200)}`);
  };
  arms.forEach((m, i) => {
    // `(A) | (B) => ...`: A shares B's body.
    let j = i;
    while (/^\s*\|/.test(bodyOf(j))) j += 1;
    const body = bodyOf(j);
    const [, method, anyMethod, segText] = m;
    let segs = patternSegments(segText);
    const rest = segs.at(-1)?.rest;
    if (rest) {
      // A sub-router: the function the arm hands the rest of the path to.
      assert.equal(anyMethod, "_", `${segText}: a sub-router takes any method`);
      const [, mod, fun] = body.match(new RegExp(`(\\w+)::(\\w+)\\([^)]*\\b${rest}\\b`));
      const sub = fnText(source(`${mod}.rs`), fun);
      const subArms = [...sub.matchAll(METHOD_ARM)];
      assert.ok(subArms.length > 0, `${mod}::${fun}: its routes`);
      // The sub-router answers 405 for other methods on its paths (an arm
      // `(_, [...]) => ... MethodNotAllowed`, or a catch-all `_ =>` one).
      const subNotAllowed = /(\(_, [^)]*\)|_) => \{?\s*(return )?Err\(LedgerError::MethodNotAllowed\)/.test(sub);
      for (const [, subMethod, , subSegs] of subArms) {
        for (const path of expand([...segs.slice(0, -1), ...patternSegments(subSegs)])) {
          out.push({ method: subMethod.toLowerCase(), path, kind: mod, subNotAllowed });
        }
      }
      return;
    }
    assert.ok(method, `${segText}: a method`);
    const kind = kindOf(body);
    // A binding the arm dispatches on: one route per literal it accepts.
    segs = segs.map((seg) => {
      if (typeof seg !== "string") return seg;
      const dispatch = body.match(new RegExp(`match \\*${seg} \\{([\\s\\S]*?)_ =>`));
      // Literals whose arm answers (not the ones that `return Err(...)`, such
      // as another method's actions answered 405).
      return dispatch
        ? [...dispatch[1].matchAll(/((?:"[^"]+"\s*\|\s*)*"[^"]+")\s*=>(?!\s*return)/g)].flatMap((d) => [...d[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]))
        : null;
    });
    for (const path of expand(segs)) out.push({ method: method.toLowerCase(), path, ...kind });
  });
  return out;
}

/** The paths of the router's 405 arm, and of the sub-routers that answer 405 for other methods. */
function routerNotAllowed() {
  const arm = fnText(ROUTER, "route").match(NOT_ALLOWED_ARM);
  const paths = [...arm[1].matchAll(/\[([^\]]*)\]/g)].flatMap(([, segs]) => expand(patternSegments(segs)));
  return [...paths, ...routerRoutes().filter((r) => r.subNotAllowed).map((r) => r.path)];
}

const anyName = (t) => t.replace(/\{[^}]*\}/g, "{}");
const params = ({ op, item }) => [...(item.parameters ?? []), ...(op.parameters ?? [])].map(deref).map((p) => `${p.in}:${p.name}`);

test("the paths are exactly the routes of the router (src/origin/api/mod.rs), with its dispatched actions and sub-routes", () => {
  const routes = routerRoutes();
  assert.ok(routes.length >= 40, routes.map((r) => `${r.method} ${r.path}`).join(", "));
  // The parser sees the arms that dispatch on a binding, the shared arms and the webhook sub-router.
  for (const p of ["post /v1/admin/subjects/{}/lock", "get /v1/admin/subjects/{}/intake", "post /v1/admin/subjects/{}/intake/{}/discard",
    "post /v1/admin/webhooks/{}/deliveries/{}/retry", "get /v1/admin/webhooks", "post /v1/admin/webhooks", "delete /v1/signals/{}",
    "get /.well-known/jwks.json", "get /v1/keys", "post /v1/identity/merges/{}/split"]) {
    assert.ok(routes.some((r) => `${r.method} ${r.path}` === p), p);
  }
  const fromCode = [...new Set(routes.map((r) => `${r.method} ${r.path}`))].sort();
  const described = operations.map(({ method, path }) => `${method} ${anyName(path)}`).sort();
  assert.deepEqual(described, fromCode, "docs/openapi.json describes exactly the router's routes");
  // The module documentation's table lists them too (its first two segments at least).
  const table = ROUTER.split("\n").filter((l) => l.startsWith("//! | `")).join("\n");
  for (const r of routes) {
    const head = r.path.split("/").filter(Boolean).slice(0, 3).map((s) => (s === "{}" ? "" : s));
    assert.ok(table.includes(`/${head.slice(0, 2).join("/")}`), `the module doc lists ${r.path}`);
  }
});

test("every listed path answers 405 for its other methods, with the router's `Allow`", () => {
  const with405 = [...new Set(routerNotAllowed())].sort();
  const listed = Object.entries(spec.paths).filter(([, item]) => item["x-signalgate-other-methods"]?.responses?.["405"]).map(([p]) => anyName(p)).sort();
  assert.deepEqual(listed, with405, "x-signalgate-other-methods (405) exactly on the paths the router answers 405");
  assert.deepEqual(listed, Object.keys(spec.paths).map(anyName).sort(), "every listed path has its 405");
  // `allowed_methods`: the first arm with a pattern that matches the path names its methods.
  const fn = fnText(ROUTER, "allowed_methods");
  const arms = [...fn.matchAll(/((?:\|?\s*\[[^\]]*\]\s*)+)=>\s*"([^"]+)"/g)].map(([, pats, allow]) => ({
    patterns: [...pats.matchAll(/\[([^\]]*)\]/g)].map(([, segs]) => patternSegments(segs)), allow,
  }));
  assert.ok(arms.length >= 3, "the arms of allowed_methods");
  const fallback = fn.match(/_ => "([^"]+)"/)[1];
  // A template parameter (NUL here) matches `_` and bindings only, never a literal.
  const matches = (pattern, segs) => pattern.length === segs.length
    && pattern.every((p, i) => p === null || typeof p === "string" || (Array.isArray(p) && p.includes(segs[i])));
  for (const [path, item] of Object.entries(spec.paths)) {
    const segs = path.split("/").filter(Boolean).map((s) => (s.startsWith("{") ? "\u0000" : s));
    const allow = arms.find((a) => a.patterns.some((p) => matches(p, segs)))?.allow ?? fallback;
    const methods = METHODS.filter((m) => item[m]).map((m) => m.toUpperCase());
    assert.deepEqual(allow.split(", ").sort(), [...methods].sort(), `${path}: the router's Allow is ${allow}`);
    for (const m of methods) assert.match(item["x-signalgate-other-methods"].description, new RegExp(`\\b${m}\\b`), `${path}: the 405's description names ${m}`);
  }
});

test("each operation's security and role permission are the code's", () => {
  const subject = source("subject.rs");
  // What a service's role must allow, per SubjectOp (`any`: every role; null: not a service's).
  const allowed = {};
  for (const [, ops, what] of fnText(subject, "allowed").matchAll(/((?:\s*\|?\s*SubjectOp::\w+)+)\s*=>\s*(Ok\(\(\)\)|permit\(role\.\w+|Err)/g)) {
    for (const [, op] of ops.matchAll(/SubjectOp::(\w+)/g)) {
      allowed[op] = what === "Ok(())" ? "any" : what.startsWith("permit") ? what.slice("permit(role.".length) : null;
    }
  }
  const browser = new Set([...fnText(subject, "browser_may").matchAll(/SubjectOp::(\w+)/g)].map((m) => m[1]));
  const visitor = new Set([...subject.match(/Principal::Visitor => \{\s*if !matches!\(op, ([^)]*)\)/)[1].matchAll(/SubjectOp::(\w+)/g)].map((m) => m[1]));
  const identity = source("identity.rs").match(/permit\(role\(config, &r\)\?\.(\w+)/)[1];
  assert.ok(browser.has("Submit") && visitor.has("Submit") && allowed.Delete === "delete" && allowed.List === "any" && identity === "identity",
    JSON.stringify({ allowed, browser: [...browser], visitor: [...visitor] }));
  const has = (security, scheme) => security.some((s) => (scheme === "none" ? Object.keys(s).length === 0 : s[scheme]));
  const kinds = new Set();
  for (const r of routerRoutes()) {
    const found = operations.find((o) => o.method === r.method && anyName(o.path) === r.path);
    const where = `${r.method.toUpperCase()} ${found.path}`;
    const { security } = found.op;
    const permission = found.op["x-signalgate-permission"];
    kinds.add(r.kind);
    if (r.kind === "subject") {
      assert.equal(permission, allowed[r.op], `${where}: x-signalgate-permission (SubjectOp::${r.op})`);
      assert.equal(has(security, "apiKey"), allowed[r.op] != null, `${where}: apiKey`);
      assert.equal(has(security, "session"), browser.has(r.op), `${where}: session`);
      assert.equal(has(security, "none"), visitor.has(r.op), `${where}: no credentials (a new visitor)`);
      assert.ok(!has(security, "admin"), `${where}: no admin`);
      if (permission !== "any") assert.match(found.op.description, new RegExp(`\`${permission}\``), `${where}: the description names \`${permission}\``);
    } else if (r.kind === "identity") {
      assert.equal(permission, identity, `${where}: x-signalgate-permission`);
      assert.deepEqual(security, [{ apiKey: [] }, { admin: [] }], where);
      assert.match(found.op.description, new RegExp(`\`${identity}\``), `${where}: the description names \`${identity}\``);
      assert.ok(params(found).includes("query:tenant"), `${where}: ?tenant= for operators`);
    } else if (r.kind === "admin") {
      assert.deepEqual(security, [{ admin: [] }], where);
      assert.equal(permission, undefined, where);
      assert.ok(params(found).includes("query:tenant") || found.path === "/v1/admin/api-keys", `${where}: ?tenant=`);
    } else if (r.kind === "public") {
      assert.deepEqual(security, [], where);
    } else {
      assert.deepEqual(security, [{}, { session: [] }], where);
    }
  }
  assert.deepEqual([...kinds].sort(), ["admin", "identity", "public", "session", "subject"]);
});

test("every operation has its 2xx, its problem responses, and the right parameters", () => {
  // Operations with a second success, 202, for what waits: a review, an operator, a retention lock, a hand-off.
  const accepted = ["submitIntake", "deleteSubject", "requestMerge", "approveMerge"];
  const evidence = ["application/jose", "application/json", "text/html"];
  const TEXT = { getSubjectEvidence: evidence, adminSubjectEvidence: evidence, getMetrics: ["text/plain", "application/json"] };
  const ids = new Set();
  for (const { path, method, op, item } of operations) {
    const where = `${method.toUpperCase()} ${path}`;
    const statuses = Object.keys(op.responses);
    assert.ok(op.operationId && !ids.has(op.operationId), `${where}: a unique operationId`);
    ids.add(op.operationId);
    const ok = statuses.filter((s) => /^2\d\d$/.test(s));
    assert.equal(ok.filter((s) => s !== "202").length, 1, `${where}: one 2xx besides 202`);
    assert.equal(ok.includes("202"), accepted.includes(op.operationId), `${where}: 202 exactly where something waits`);
    assert.ok(statuses.includes("503"), `${where}: 503 (the origin is not configured)`);
    for (const s of statuses) {
      const r = deref(op.responses[s]);
      const types = Object.keys(r.content ?? {});
      if (s >= "400") {
        assert.deepEqual(types, ["application/problem+json"], `${where} ${s}`);
        const schema = r.content["application/problem+json"].schema;
        assert.ok(JSON.stringify(schema).includes("#/components/schemas/Problem"), `${where} ${s}: a Problem`);
      } else if (s === "204") {
        assert.equal(types.length, 0, `${where} ${s}: no content`);
      } else if (TEXT[op.operationId]) {
        assert.deepEqual(types, TEXT[op.operationId], `${where} ${s}`);
      } else {
        assert.equal(types.length, 1, `${where} ${s}`);
        assert.ok(["application/json", "application/jwk-set+json"].includes(types[0]), `${where} ${s}: ${types[0]}`);
      }
      for (const [mt, c] of Object.entries(r.content ?? {})) assert.ok(c.schema, `${where} ${s} ${mt}: a schema`);
    }
    // Path parameters: exactly the template's; an id in the path can be unknown or not an identifier (404).
    const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => `path:${m[1]}`).sort();
    assert.deepEqual(params({ op, item }).filter((p) => p.startsWith("path:")).sort(), inPath, `${where}: path parameters`);
    if (inPath.length) assert.ok(statuses.includes("404"), `${where}: 404`);
    // A body: 400 (not the JSON expected) and 413 (too large). A required member, a query parameter or an
    // idempotency key: 422. Credentials: 401; a role: 403.
    if (op.requestBody) assert.ok(statuses.includes("400") && statuses.includes("413"), `${where}: body problems`);
    const rb = op.requestBody && deref(op.requestBody);
    const bodyRequired = rb && deref(rb.content["application/json"].schema).required?.length;
    if (bodyRequired || params({ op, item }).some((p) => p.startsWith("query:") || p === "header:Idempotency-Key")) {
      assert.ok(statuses.includes("422"), `${where}: 422`);
    }
    if (op.security.some((s) => s.apiKey || s.admin)) assert.ok(statuses.includes("401"), `${where}: 401`);
    if (op.security.some((s) => s.apiKey)) assert.ok(statuses.includes("403"), `${where}: 403 (the role may not)`);
  }
  const op = (m, p) => operations.find((o) => o.method === m && o.path === p);
  for (const p of ["/v1/signals", "/v1/signals/{id}/reconfirm", "/v1/consents/{id}/revoke", "/v1/intake"]) {
    assert.ok(params(op("post", p)).includes("header:Idempotency-Key"), p);
    assert.equal(op("post", p).op.responses["409"].$ref, "#/components/responses/WriteConflict", `${p}: 409`);
    for (const [s, r] of Object.entries(op("post", p).op.responses).filter(([s]) => s < "300")) {
      assert.ok(deref(r).headers["Set-Cookie"], `${p} ${s}: Set-Cookie`);
    }
  }
  // The subject's ledger refuses a merged subject (409 subject_merged) and a deleted one (410 subject_deleted).
  for (const [m, p] of [["post", "/v1/signals"], ["get", "/v1/signals"], ["post", "/v1/intake"], ["delete", "/v1/signals/{id}"], ["post", "/v1/bundles"],
    ["post", "/v1/signals/{id}/reconfirm"], ["post", "/v1/consents/{id}/revoke"], ["post", "/v1/admin/subjects/{subject}/intake/{id}/map"]]) {
    assert.ok(op(m, p).op.responses["409"] && op(m, p).op.responses["410"], `${m} ${p}: 409 and 410`);
  }
  for (const p of ["/v1/identity/merges", "/v1/identity/merges/{id}/approve", "/v1/identity/merges/{id}/reject", "/v1/identity/merges/{id}/split"]) {
    assert.equal(op("post", p).op.responses["409"].$ref, "#/components/responses/MergeConflict", p);
  }
  // Deleting answers `propagated`, as revoking does.
  for (const name of ["RevokeReply", "DeleteSignalReply", "SubjectDeleteReply"]) {
    assert.equal(spec.components.schemas[name].properties.propagated.type, "boolean", `${name}.propagated`);
    assert.ok(spec.components.schemas[name].required.includes("propagated"), `${name}.propagated`);
  }
  assert.ok(params(op("get", "/v1/signals")).includes("query:subject_id"));
  assert.ok(params(op("get", "/v1/tenants/{tenant}/revocations")).includes("query:since"));
  assert.ok(params(op("post", "/v1/admin/subjects/{subject}/verify")).includes("query:tenant"));
  for (const p of ["/v1/subjects/{id}/evidence", "/v1/admin/subjects/{subject}/evidence"]) {
    assert.deepEqual(params(op("get", p)).filter((x) => x.startsWith("query:") && x !== "query:tenant"), ["query:format", "query:from", "query:to"], p);
  }
  assert.deepEqual(op("post", "/v1/admin/api-keys").op.security, [{ admin: [] }]);
  assert.deepEqual(op("get", "/v1/keys").op.security, []);
  assert.deepEqual(op("post", "/v1/signals").op.security, [{ apiKey: [] }, { session: [] }, {}]);
  assert.equal(op("post", "/v1/signals").op.responses["201"].content["application/json"].schema.$ref, "#/components/schemas/SubmitReply");
  assert.ok(spec.components.schemas.ApiKeyRequest.properties.role && spec.components.schemas.ApiKeyReply.required.includes("role"), "API key roles");
});

test("the evidence pack schema is docs/evidence-pack.schema.json", () => {
  const file = JSON.parse(readFileSync(join(ROOT, "docs", "evidence-pack.schema.json"), "utf8"));
  const rewrite = (node) => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node && typeof node === "object") {
      return Object.fromEntries(Object.entries(node).filter(([k]) => k !== "$schema" && k !== "$id")
        .map(([k, v]) => [k, k === "$ref" && v.startsWith("#/$defs/") ? `#/components/schemas/EvidencePack/$defs/${v.slice(8)}` : rewrite(v)]));
    }
    return node;
  };
  const { description, ...embedded } = spec.components.schemas.EvidencePack;
  const { description: fileDescription, ...expected } = rewrite(file);
  assert.deepEqual(embedded, expected, "components.schemas.EvidencePack is a copy of docs/evidence-pack.schema.json (its $defs references pointing into the component)");
  assert.ok(description.startsWith(fileDescription), "and its description");
});

test("every request field the code names in a problem is one the spec's problems allow", () => {
  const dirs = [join(ROOT, "src", "origin"), API, join(ROOT, "src", "ledger")];
  const files = dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith(".rs")).map((f) => join(d, f)));
  const named = new Set();
  for (const file of files) {
    const src = readFileSync(file, "utf8");
    for (const re of [/\bfield: "([^"]+)"/g, /\b(?:ident_param|required_ident|ident_list|ident|context)\((?:&m|url), "([^"]+)"\)/g,
      /\bfield\("([^"]+)"\)/g, /\btime\("([^"]+)"\)/g, /"(\w+)", MAX_[A-Z_]+\)/g]) {
      for (const [, f] of src.matchAll(re)) named.add(f);
    }
  }
  assert.ok(named.size >= 25 && ["answer", "until", "evidence", "role", "from", "Idempotency-Key"].every((f) => named.has(f)), [...named].join(", "));
  const variants = Object.fromEntries(spec.components.schemas.Problem.allOf.map((v) => [v.if.properties.code.const, v.then.properties.field]));
  for (const code of ["missing_field", "invalid_field"]) {
    assert.deepEqual([...named].filter((f) => !variants[code].enum.includes(f)), [], `${code}: the fields the code names`);
  }
});

test("the problem codes, statuses, titles and fields are those of src/ledger/error.rs", () => {
  const src = readFileSync(join(ROOT, "src", "ledger", "error.rs"), "utf8");
  const body = (fn) => src.slice(src.indexOf(`fn ${fn}(&self)`)).split(/\n    }\n/)[0];
  const arms = (fn, value) => {
    const out = {};
    for (const [, lhs, v] of body(fn).matchAll(new RegExp(`((?:\\s*\\|?\\s*LedgerError::\\w+(?:\\s*\\{[^}]*\\})?)+)\\s*=>\\s*${value}`, "g"))) {
      for (const [, variant] of lhs.matchAll(/LedgerError::(\w+)/g)) out[variant] = v;
    }
    return out;
  };
  const codes = arms("code", '"(\\w+)"');
  const statuses = arms("status", "(\\d{3})");
  const titles = arms("title", '"([^"]+)"');
  const fields = arms("field", 'Some\\("([^"]+)"\\)');
  assert.ok(Object.keys(codes).length >= 19);
  const problemSchema = spec.components.schemas.Problem;
  assert.deepEqual([...problemSchema.properties.code.enum].sort(), Object.values(codes).sort());
  const variants = Object.fromEntries(problemSchema.allOf.map((v) => [v.if.properties.code.const, v.then]));
  for (const [variant, code] of Object.entries(codes)) {
    const v = variants[code];
    assert.ok(v, code);
    assert.equal(v.properties.type.const, `urn:signalgate:problem:${code}`);
    assert.equal(String(v.properties.status.const), statuses[variant], `${code}: status`);
    assert.equal(v.properties.title.const, titles[variant], `${code}: title`);
    if (fields[variant]) assert.equal(v.properties.field.const, fields[variant], `${code}: field`);
    else if (["MissingField", "InvalidField"].includes(variant)) assert.ok(v.properties.field.enum.length > 5, code);
    else assert.deepEqual(v.not, { required: ["field"] }, `${code}: no field`);
    // And some operation (or the fallback for other methods) lists that status.
    const listings = [...operations.map(({ op }) => op), ...Object.values(spec.paths).map((i) => i["x-signalgate-other-methods"]).filter(Boolean)];
    assert.ok(listings.some((o) => o.responses[statuses[variant]]), `${code}: status ${statuses[variant]} listed`);
  }
});

test("Ajv (2020-12, strict) compiles every component schema and every operation's schemas", () => {
  const ajv = newAjv(spec);
  const id = "https://signalgate.invalid/openapi.json";
  for (const name of Object.keys(spec.components.schemas)) {
    assert.equal(typeof ajv.compile({ $ref: `${id}#/components/schemas/${name}` }), "function", name);
  }
  for (const [name, r] of Object.entries(spec.components.responses)) {
    for (const mt of Object.keys(r.content ?? {})) {
      ajv.compile({ $ref: `${id}#/components/responses/${name}/content/${encodeURIComponent(mt.replace("/", "~1"))}/schema` });
    }
  }
});

// ---- The validator ----

test("checkResponse accepts replies the origin gives", async () => {
  const r = await checkResponse("POST", "/v1/signals", json(201, submitReply));
  assert.equal(r.operationId, "submitSignal");
  assert.equal(r.body.bundle.bundle_id, bundle.bundle_id);
  // A late capture, a reply with parameters on the media type, and a whole URL.
  await checkResponse("post", "http://127.0.0.1:8787/v1/signals?x=1",
    { ...json(201, { ...submitReply, late: { version: 2, captured_at: 1_799_990_000, provenance_hash: B(22, "q") } }), headers: { "Content-Type": "application/json; charset=utf-8" } });
  await checkResponse("POST", "/v1/signals/sig_abc/reconfirm", json(200, { signal: { ...signal, reconfirmed_at: 1_800_000_100 }, freshness, bundle }));
  await checkResponse("POST", "/v1/consents/c-lang/revoke", json(200, {
    consent: { consent_id: "c-lang", status: "revoked", purposes: ["personalization"] },
    revoked_bundles: [{ bundle_id: bundle.bundle_id, expires_at: bundle.expires_at }], bundle: { ...bundle, signals: 0 }, propagated: true,
  }));
  await checkResponse("POST", "/v1/bundles", json(201, { bundle }));
  const consent = { consent_id: "c-lang", purposes: ["personalization"], scopes: ["web"], legal_basis: "consent", status: "granted", granted_at: 1_800_000_000 };
  await checkResponse("GET", "/v1/signals", json(200, { subject_id: "s_1", signals: [listed], consents: [consent] }));
  // An API key's role: only the members it sees, no consents; an erased value.
  await checkResponse("GET", "/v1/signals?subject_id=s_1", json(200, {
    subject_id: "s_1", role: "engine", signals: [{ signal_id: signal.signal_id, signal_type: "language", category: "german", freshness, expires_at: 1_831_536_000 }],
  }));
  await checkResponse("GET", "/v1/signals?subject_id=s_1", json(200, { subject_id: "s_1", role: "audit", signals: [{ ...listed, value: null, category: null }], consents: [consent] }));
  await checkResponse("GET", "/v1/tenants/demo-shop/revocations?since=0", json(200, { seq: 3, bundles: [{ bundle_id: bundle.bundle_id, expires_at: 1_800_086_400 }], more: false }));
  const jwks = { keys: [{ kty: "OKP", crv: "Ed25519", x: B(43, "x"), kid: "k1", alg: "EdDSA", use: "sig" }] };
  await checkResponse("GET", "/.well-known/jwks.json", json(200, jwks, "application/jwk-set+json"));
  await checkResponse("GET", "/v1/keys", json(200, jwks, "application/jwk-set+json"));
  await checkResponse("GET", "/v1/policy", json(200, JSON.parse(readFileSync(join(ROOT, "www", "policy.json"), "utf8"))));
  await checkResponse("POST", "/v1/admin/api-keys", json(201, {
    tenant: "demo-shop", key_id: `k_${B(11, "k")}`, role: "service", api_key: `sgk.ZGVtby1zaG9w.k_${B(11, "k")}.${B(43, "z")}`, note: "shown once: store it now",
  }));
  await checkResponse("POST", "/v1/admin/subjects/s_1/verify?tenant=demo-shop", json(200, {
    events: 4, chain_ok: false, first_bad_index: 2, first_bad_seq: 3, problem: "hash mismatch", projection_matches: true,
  }));
  // Governance: intake, deletions, history, merges, the admin routes.
  const intake = { intake_id: `in_${B(16, "i")}`, purge_at: 1_800_086_400 };
  await checkResponse("POST", "/v1/intake", json(201, { ...submitReply, intake: { ...intake, state: "mapped" } }));
  await checkResponse("POST", "/v1/intake", json(202, { intake: { ...intake, state: "pending" } }));
  await checkResponse("DELETE", "/v1/signals/sig_abc", json(200, {
    signal_id: "sig_abc", status: "deleted", deletion: "erase", values_erased: 1, erasure_deferred: false, revoked_bundles: [], propagated: true,
  }));
  await checkResponse("POST", "/v1/subjects/me/delete", json(200, {
    subject_id: "s_1", status: "erased", revoked_bundles: [{ bundle_id: bundle.bundle_id, expires_at: bundle.expires_at }], erasure_deferred_until: null, propagated: false,
  }));
  await checkResponse("POST", "/v1/subjects/u-1/delete", json(200, { subject_id: "u-1", status: "deleted", propagated: true }));
  await checkResponse("POST", "/v1/subjects/u-1/delete", json(202, { subject_id: "u-1", status: "erased", revoked_bundles: [], erasure_deferred_until: 1_900_000_000, propagated: true }));
  const event = {
    seq: 1, at: 1_800_000_000, op: "consent_granted", actor_type: "service", actor_id: "k_AAAAAAAAAAA", source_ui: null, policy_version: "2026-01",
    legal_basis: "consent", justification: null, prev_hash: "0".repeat(64), hash: "a".repeat(64),
    change: { op: "consent_granted", consent_id: "c-1", purposes: ["personalization"], scopes: ["web"], legal_basis: "consent" },
  };
  await checkResponse("GET", "/v1/subjects/u-1/history", json(200, { subject_id: "u-1", chain_ok: true, first_bad_index: null, events: [event] }));
  await checkResponse("GET", "/v1/admin/subjects/u-1/history?tenant=demo-shop", json(200, { subject_id: "u-1", chain_ok: false, first_bad_index: 0, events: [event] }));
  await checkResponse("POST", "/v1/identity/merges", json(202, { merge: { ...merge, state: "review" }, threshold: 0.8 }));
  await checkResponse("POST", "/v1/identity/merges", json(202, { merge: { ...merge, state: "accepted" }, handed_over: 2 }));
  await checkResponse("POST", "/v1/identity/merges", json(200, { merge, handed_over: 2 }));
  await checkResponse("POST", "/v1/identity/merges", json(200, { merge: { ...merge, state: "rejected", decided_by: "admin", decided_at: 1_800_000_100, note: "not_same" } }));
  await checkResponse("GET", "/v1/identity/merges?state=review", json(200, { merges: [merge] }));
  await checkResponse("GET", `/v1/identity/merges/${merge.merge_id}`, json(200, { merge }));
  await checkResponse("POST", `/v1/identity/merges/${merge.merge_id}/reject`, json(200, { merge: { ...merge, state: "rejected" } }));
  await checkResponse("POST", `/v1/identity/merges/${merge.merge_id}/split`, json(200, { merge: { ...merge, state: "split" }, restored: 1, delivered: true }));
  await checkResponse("POST", "/v1/admin/subjects/u-1/lock?tenant=demo-shop", json(200, { subject_id: "u-1", locked_until: 1_900_000_000, reason: "legal_hold" }));
  await checkResponse("POST", "/v1/admin/subjects/u-1/unlock?tenant=demo-shop", json(200, { subject_id: "u-1", locked_until: null }));
  await checkResponse("POST", "/v1/admin/subjects/u-1/restore?tenant=demo-shop", json(200, { subject_id: "u-1", status: "active" }));
  await checkResponse("POST", "/v1/admin/subjects/u-1/maintain?tenant=demo-shop", json(200, { expired: 0, erased: 2, intake_purged: 1, deferred: 0 }));
  await checkResponse("GET", "/v1/admin/subjects/u-1/intake?tenant=demo-shop", json(200, {
    subject_id: "u-1", intake: [{ intake_id: intake.intake_id, signal_type: "language", answer: "a bit of everything", received_at: 1_800_000_000, purge_at: intake.purge_at }],
  }));
  await checkResponse("POST", `/v1/admin/subjects/u-1/intake/${intake.intake_id}/map?tenant=demo-shop`, json(201, submitReply));
  await checkResponse("POST", `/v1/admin/subjects/u-1/intake/${intake.intake_id}/discard?tenant=demo-shop`, json(200, { intake_id: intake.intake_id, state: "discarded" }));
  const ep = `ep_${B(16, "e")}`;
  await checkResponse("POST", "/v1/admin/webhooks?tenant=demo-shop", json(201, { endpoint_id: ep, secret: `whsec_${B(32, "s")}=`, note: "shown once: store it now" }));
  await checkResponse("GET", "/v1/admin/webhooks?tenant=demo-shop", json(200, {
    endpoints: [{ endpoint_id: ep, url: "https://hooks.example/in", events: ["consent.revoked"], created_at: 1_800_000_000, rotating: false, disabled_at: null }],
  }));
  await checkResponse("GET", "/v1/admin/webhooks/deliveries?tenant=demo-shop&state=dead", json(200, {
    deliveries: [{ endpoint_id: ep, msg_id: "msg_1", event_type: "consent.revoked", subject_id: "u-1", state: "dead", attempts: 8, created_at: 1_800_000_000, delivered_at: null, last_status: 503, last_error: "503 Service Unavailable" }],
  }));
  await checkResponse("POST", `/v1/admin/webhooks/${ep}/rotate?tenant=demo-shop`, json(200, { endpoint_id: ep, secret: `whsec_${B(32, "s")}=`, note: "shown once" }));
  await checkResponse("POST", `/v1/admin/webhooks/${ep}/disable?tenant=demo-shop`, json(200, { endpoint_id: ep, disabled: true }));
  await checkResponse("POST", `/v1/admin/webhooks/${ep}/deliveries/msg_1/retry?tenant=demo-shop`, json(200, { endpoint_id: ep, msg_id: "msg_1", state: "pending" }));
  // Problems, including a 405 on another method and a 404 on an unlisted route.
  await checkResponse("POST", "/v1/signals", problemReply({ ...problem("subject_merged", 409, "The subject was merged into another one", "the subject was merged into \"u-2\"; write to that subject"), merged_into: "u-2" }));
  await checkResponse("GET", "/v1/signals", problemReply({ ...problem("subject_merged", 409, "The subject was merged into another one", "x"), merged_into: "u-2" }));
  await checkResponse("POST", "/v1/bundles", problemReply(problem("subject_deleted", 410, "The subject was deleted", "the subject was deleted; nothing of it is used any more")));
  await checkResponse("POST", "/v1/identity/merges", problemReply(problem("merge_conflict", 409, "The merge conflicts with the subjects' state", "merge: a subject cannot be merged into itself")));
  await checkResponse("GET", "/v1/identity/merges/m_x", problemReply(problem("unknown_merge", 404, "No such merge", "no merge \"m_x\" for this tenant")));
  await checkResponse("POST", "/v1/admin/subjects/u-1/intake/in_x/map?tenant=t", problemReply(problem("unknown_intake", 404, "No such intake item", "x")));
  await checkResponse("POST", "/v1/identity/merges", problemReply(problem("invalid_field", 422, "A field has an invalid value", "x", "evidence")));
  await checkResponse("POST", "/v1/admin/webhooks/ep_x/rotate", problemReply(problem("unauthenticated", 401, "Authentication required", "admin token required")));
  await checkResponse("POST", "/v1/signals", problemReply(problem("value_not_in_vocabulary", 422, "Value not in the policy's vocabulary", "`value` is not in the vocabulary", "value")));
  await checkResponse("POST", "/v1/signals", problemReply(problem("missing_field", 422, "A required field is missing", "`subject_id` is required", "subject_id")));
  await checkResponse("POST", "/v1/signals/sig_abc/reconfirm", problemReply(problem("unknown_signal", 404, "No such signal", "no active signal `sig_abc` for this subject")));
  await checkResponse("POST", "/v1/signals", problemReply(problem("idempotency_in_flight", 409, "A request with this idempotency key is in progress", "retry later", "Idempotency-Key")));
  await checkResponse("GET", "/v1/signals", problemReply(problem("unauthenticated", 401, "Authentication required", "no session: capture a preference first, or use an API key")));
  const r405 = await checkResponse("DELETE", "/v1/signals", problemReply(problem("method_not_allowed", 405, "Method not allowed", "method not allowed on this resource")));
  assert.match(r405.operationId, /other-methods/);
  await checkResponse("GET", "/v1/nothing-here", problemReply(problem("not_found", 404, "Not found", "no such resource")));
  await checkResponse("GET", "/v1/signals/sig_abc/reconfirm", { ...problemReply(problem("method_not_allowed", 405, "Method not allowed", "method not allowed on this resource")) });
  await checkResponse("GET", "/v1/signals/sig_abc/reconfirm/extra", problemReply(problem("not_found", 404, "Not found", "no such resource")));
  await checkResponse("GET", "/v1/keys", problemReply(problem("config", 503, "The origin is not configured", "configuration: the origin is not configured; see its log")));
});

test("checkResponse refuses what does not match", async () => {
  const { type: _, ...untyped } = problem("forbidden", 403, "Not allowed", "cross-origin writes are refused");
  await rejects(checkResponse("POST", "/v1/signals", problemReply(untyped)), /submitSignal.*403[\s\S]*must have required property 'type'/);
  const { bundle: __, ...noBundle } = submitReply;
  await rejects(checkResponse("POST", "/v1/signals", json(201, noBundle)), /POST \/v1\/signals \[submitSignal\] -> 201[\s\S]*required property 'bundle'/);
  // Wrong content types: a problem as plain JSON, a reply as text, the JWK Set as plain JSON.
  await rejects(checkResponse("POST", "/v1/signals", json(422, problem("missing_field", 422, "A required field is missing", "x", "value"))), /Content-Type "application\/json" is not one the spec lists \(application\/problem\+json\)/);
  await rejects(checkResponse("POST", "/v1/bundles", json(201, { bundle }, "text/plain")), /Content-Type "text\/plain"/);
  await rejects(checkResponse("GET", "/v1/keys", json(200, { keys: [] })), /Content-Type/);
  await rejects(checkResponse("POST", "/v1/bundles", { status: 201, headers: new Headers(), text: "{}" }), /Content-Type null/);
  // Statuses the operation does not list.
  await rejects(checkResponse("POST", "/v1/signals", json(200, submitReply)), /status 200 is not listed for this operation/);
  await rejects(checkResponse("GET", "/v1/signals", problemReply(problem("body_too_large", 413, "Request body too large", "x"))), /listSignals.*status 413 is not listed/);
  await rejects(checkResponse("GET", "/v1/signals", problemReply(problem("idempotency_in_flight", 409, "A request with this idempotency key is in progress", "x", "Idempotency-Key"))), /listSignals.*409[\s\S]*code must be equal to one of the allowed values/);
  await rejects(checkResponse("POST", "/v1/bundles", problemReply(problem("unknown_signal", 404, "No such signal", "x"))), /status 404 is not listed/);
  // A problem whose code, status, title or field disagree.
  await rejects(checkResponse("POST", "/v1/signals", problemReply({ ...problem("missing_field", 422, "A required field is missing", "x", "value"), status: 400 })), /status must be equal to constant/);
  await rejects(checkResponse("POST", "/v1/signals", problemReply(problem("forbidden", 403, "Forbidden", "x"))), /title must be equal to constant/);
  await rejects(checkResponse("POST", "/v1/signals", problemReply(problem("forbidden", 403, "Not allowed", "x", "value"))), /must NOT be valid/);
  await rejects(checkResponse("POST", "/v1/signals", problemReply(problem("unknown_class", 422, "Unknown signal type", "x"))), /required property 'field'/);
  await rejects(checkResponse("POST", "/v1/signals", problemReply(problem("teapot", 422, "x", "x"))), /code must be equal to one of the allowed values/);
  // `merged_into`: required for subject_merged, and for it only; 409s and 410s only where the route has them.
  await rejects(checkResponse("POST", "/v1/signals", problemReply(problem("subject_merged", 409, "The subject was merged into another one", "x"))), /required property 'merged_into'/);
  await rejects(checkResponse("POST", "/v1/signals", problemReply({ ...problem("forbidden", 403, "Not allowed", "x"), merged_into: "u-2" })), /code must be equal to constant/);
  await rejects(checkResponse("POST", "/v1/identity/merges", problemReply(problem("idempotency_in_flight", 409, "A request with this idempotency key is in progress", "x", "Idempotency-Key"))), /code must be equal to one of the allowed values/);
  await rejects(checkResponse("GET", "/v1/subjects/u-1/history", problemReply(problem("subject_deleted", 410, "The subject was deleted", "x"))), /status 410 is not listed/);
  await rejects(checkResponse("POST", "/v1/identity/merges", json(202, { merge })), /required property 'threshold'|required property 'handed_over'/);
  await rejects(checkResponse("POST", "/v1/subjects/u-1/delete", json(202, { subject_id: "u-1", status: "erased", revoked_bundles: [], erasure_deferred_until: null, propagated: true })), /erasure_deferred_until must be integer/);
  await rejects(checkResponse("DELETE", "/v1/signals/sig_abc", json(200, { signal_id: "sig_abc", status: "deleted", deletion: "erase", values_erased: 1, erasure_deferred: false, revoked_bundles: [] })), /required property 'propagated'/);
  await rejects(checkResponse("POST", "/v1/admin/api-keys", json(201, { tenant: "t", key_id: `k_${B(11, "k")}`, api_key: `sgk.dA.k_${B(11, "k")}.${B(43, "z")}`, note: "x" })), /required property 'role'/);
  // Wrong member types, enums, extra members, nulls where none may be.
  const bad = [
    [{ ...submitReply, signal: { ...signal, reconfirmed_at: "never" } }, /reconfirmed_at/],
    [{ ...submitReply, signal: { ...signal, captured_at: 1.5 } }, /captured_at must be integer/],
    [{ ...submitReply, signal: { ...signal, status: "deleted" } }, /status must be equal to one of the allowed values/],
    [{ ...submitReply, signal: { ...signal, consent_status: null } }, /consent_status must be string/],
    [{ ...submitReply, decision: { ...submitReply.decision, tier: "gold" } }, /tier must be equal to one of the allowed values/],
    [{ ...submitReply, decision: { tier: "generic", segments: [] } }, /required property 'freshness'/],
    [{ ...submitReply, freshness: { state: "fresh" } }, /freshness/],
    [{ ...submitReply, extra: 1 }, /must NOT have additional properties/],
    [{ ...submitReply, bundle: { ...bundle, token: "not a jws" } }, /token must match pattern/],
  ];
  for (const [body, re] of bad) await rejects(checkResponse("POST", "/v1/signals", json(201, body)), re);
  await rejects(checkResponse("GET", "/v1/tenants/t/revocations", json(200, { seq: 1, bundles: [{ bundle_id: bundle.bundle_id }], more: false })), /expires_at/);
  await rejects(checkResponse("GET", "/v1/signals", json(200, { subject_id: "s", signals: [signal], consents: [] })), /required property 'freshness'/);
  // A browser's listing (no `role`) has every member and the consents; a role's has only members a signal has.
  await rejects(checkResponse("GET", "/v1/signals", json(200, { subject_id: "s", signals: [listed] })), /required property 'consents'/);
  await rejects(checkResponse("GET", "/v1/signals", json(200, { subject_id: "s", signals: [{ ...listed, value_erased: undefined }], consents: [] })), /required property 'value_erased'/);
  await rejects(checkResponse("GET", "/v1/signals", json(200, { subject_id: "s", role: "engine", signals: [{ signal_id: "x", score: 1 }] })), /must NOT have additional properties/);
  // Not JSON at all, and a body the checker was not given.
  await rejects(checkResponse("POST", "/v1/bundles", { status: 201, headers: { "content-type": "application/json" }, text: "<html>" }), /not JSON/);
  await rejects(checkResponse("POST", "/v1/bundles", { status: 201, headers: { "content-type": "application/json" } }), /no body text/);
});

test("checkResponse accepts the listed text media types, and checks the text against their schema", async () => {
  const pack = JSON.parse(readFileSync(join(ROOT, "tests", "vectors", "evidence", "sample-pack.json"), "utf8"));
  const jws = "eyJhbGciOiJFZERTQSIsInR5cCI6InNpZ25hbGdhdGUtZXZpZGVuY2UrandzIn0.eyJwYWNrIjoxfQ.c2lnbmF0dXJl";
  for (const base of ["/v1/subjects/me/evidence?from=0", "/v1/admin/subjects/u-1/evidence?tenant=demo-shop"]) {
    const signed = await checkResponse("GET", base, text(200, jws, "application/jose"));
    assert.deepEqual([signed.mediaType, signed.body], ["application/jose", jws]);
    const page = await checkResponse("GET", `${base}&format=html`, text(200, "<!doctype html><title>Evidence</title>", "text/html; charset=utf-8"));
    assert.equal(page.mediaType, "text/html");
    const asJson = await checkResponse("GET", `${base}&format=json`, json(200, pack));
    assert.equal(asJson.body.pack, "signalgate-evidence/1");
    await rejects(checkResponse("GET", base, text(200, "not a jws", "application/jose")), /application\/jose\): the body does not match the schema[\s\S]*must match pattern/);
    await rejects(checkResponse("GET", base, json(200, { ...pack, pack: "other/1" })), /pack must be equal to constant/);
    await rejects(checkResponse("GET", base, text(200, "a", "text/plain")), /Content-Type "text\/plain" is not one the spec lists \(application\/jose, application\/json, text\/html\)/);
  }
  const prometheus = "# HELP signalgate_subjects Subjects with a ledger.\n# TYPE signalgate_subjects gauge\nsignalgate_subjects{tenant=\"demo-shop\"} 3\n";
  const metrics = await checkResponse("GET", "/v1/admin/metrics?tenant=demo-shop", text(200, prometheus, "text/plain; version=0.0.4"));
  assert.deepEqual([metrics.mediaType, metrics.body], ["text/plain", prometheus]);
  const figures = {
    tenant: "demo-shop", at: 1_800_000_000, subjects: 3, signals_active: 4, signals_fresh: 3, signals_consent_valid: 4, fresh_rate: 0.75,
    consent_valid_rate: 1, requests: 10, rejected: 1, rejection_rate: 0.1, consent_mismatches: 0,
    capture_to_bundle_seconds: { p50: 0, p99: 1, buckets: [{ le: 0, count: 3 }, { le: 1, count: 1 }, { le: "+Inf", count: 0 }] },
  };
  await checkResponse("GET", "/v1/admin/metrics?tenant=demo-shop&format=json", json(200, figures));
  await rejects(checkResponse("GET", "/v1/admin/metrics?tenant=demo-shop&format=json", json(200, { ...figures, fresh_rate: 2 })), /fresh_rate must be <= 1/);
  await rejects(checkResponse("GET", "/v1/admin/metrics", text(200, "<html>", "text/html")), /Content-Type "text\/html"/);
  // A problem on these routes is still JSON, checked as such.
  await rejects(checkResponse("GET", "/v1/subjects/me/evidence", text(422, "format?", "application/problem+json")), /the body is not JSON/);
  assert.ok(isJsonMediaType("application/problem+json") && isJsonMediaType("application/jwk-set+json") && isJsonMediaType("application/json; charset=utf-8"));
  assert.ok(!isJsonMediaType("application/jose") && !isJsonMediaType("text/html") && !isJsonMediaType("text/plain"));
});

test("checkRequest validates the tests' own request bodies", async () => {
  const capture = {
    signal_type: "language", value: "Deutsch", purpose: "personalization", consent_reference: "c-lang",
    source_context: { channel: "web", ui: "preference-centre", page: "/account" },
  };
  await checkRequest("POST", "/v1/signals", capture);
  const { purpose: _, ...withoutPurpose } = capture;
  await checkRequest("POST", "/v1/signals", { ...withoutPurpose, purposes: ["personalization"], subject_id: "s_1", legal_basis: "consent", scopes: ["web"], captured_at: 1_800_000_000 });
  await checkRequest("POST", "/v1/signals/sig_abc/reconfirm", {});
  await checkRequest("POST", "/v1/signals/sig_abc/reconfirm", undefined);
  await checkRequest("POST", "/v1/consents/c-lang/revoke", { justification: "user_request", source_context: { channel: "web" }, subject_id: "s_1" });
  await checkRequest("POST", "/v1/bundles", { subject_id: "s_1" });
  await checkRequest("POST", "/v1/admin/api-keys", { tenant: "demo-shop", label: "tests" });
  await checkRequest("POST", "/v1/admin/api-keys", { tenant: "demo-shop", label: "tests", role: "engine" });
  const { value: __, ...answerless } = capture;
  await checkRequest("POST", "/v1/intake", { ...answerless, answer: "a bit of everything, honestly" });
  await rejects(checkRequest("POST", "/v1/intake", capture), /submitIntake[\s\S]*required property 'answer'/);
  await rejects(checkRequest("POST", "/v1/intake", { ...answerless, answer: "x".repeat(501) }), /answer must NOT have more than 500 characters/);
  await rejects(checkRequest("POST", "/v1/intake", { ...answerless, answer: "line\u0007" }), /answer must match pattern/);
  await checkRequest("DELETE", "/v1/signals/sig_abc", { subject_id: "u-1" });
  await checkRequest("DELETE", "/v1/signals/sig_abc", undefined);
  await checkRequest("POST", "/v1/subjects/me/delete", { erase: true, reason: "user_request" });
  await checkRequest("POST", "/v1/subjects/me/delete", undefined);
  await rejects(checkRequest("POST", "/v1/subjects/me/delete", { erase: "yes" }), /erase/);
  await rejects(checkRequest("POST", "/v1/subjects/me/delete", { erase: true, subject_id: "u-1" }), /additional properties/);
  await checkRequest("POST", "/v1/identity/merges", { source: "u-1", target: "u-2", evidence: ["verified_email"] });
  await rejects(checkRequest("POST", "/v1/identity/merges", { source: "u-1", target: "u-2" }), /required property 'evidence'/);
  await checkRequest("POST", "/v1/identity/merges/m_x/approve", { note: "same_person" });
  await checkRequest("POST", "/v1/identity/merges/m_x/reject", undefined);
  await rejects(checkRequest("POST", "/v1/identity/merges/m_x/split", {}), /takes no body/);
  await checkRequest("POST", "/v1/admin/subjects/u-1/lock", { until: 1_900_000_000, reason: "legal_hold" });
  await rejects(checkRequest("POST", "/v1/admin/subjects/u-1/lock", { until: 1_900_000_000 }), /required property 'reason'/);
  await checkRequest("POST", "/v1/admin/subjects/u-1/intake/in_x/map", { value: "de" });
  await checkRequest("POST", "/v1/admin/webhooks", { url: "https://hooks.example/in", events: ["consent.revoked", "subject.erased"] });
  await rejects(checkRequest("POST", "/v1/admin/webhooks", { url: "https://hooks.example/in", events: ["consent.granted"] }), /events\/0 must be equal to one of the allowed values/);
  await checkRequest("GET", "/v1/signals", undefined);
  await rejects(checkRequest("POST", "/v1/signals", { ...capture, note: "x" }), /submitSignal[\s\S]*additional properties/);
  await rejects(checkRequest("POST", "/v1/signals", { ...capture, purposes: ["personalization"] }), /oneOf/);
  await rejects(checkRequest("POST", "/v1/signals", { ...capture, value: "x".repeat(201) }), /value must NOT have more than 200 characters/);
  await rejects(checkRequest("POST", "/v1/signals", { ...capture, source_context: { channel: "web", page: "javascript:alert(1)" } }), /page/);
  await rejects(checkRequest("POST", "/v1/signals", { ...capture, legal_basis: "vibes" }), /legal_basis/);
  await rejects(checkRequest("POST", "/v1/signals", { ...capture, consent_reference: "has space" }), /consent_reference must match pattern/);
  await rejects(checkRequest("POST", "/v1/signals", undefined), /the body is required/);
  await rejects(checkRequest("POST", "/v1/consents/c/revoke", { reason: "x" }), /additional properties/);
  await rejects(checkRequest("GET", "/v1/signals", {}), /takes no body/);
  await rejects(checkRequest("POST", "/v1/nowhere", {}), /no such operation/);
});

test("findOperation matches templates and falls back for other methods and routes", async () => {
  assert.equal((await findOperation("post", "/v1/signals/sig_1/reconfirm/")).template, "/v1/signals/{id}/reconfirm");
  assert.equal((await findOperation("GET", "/v1/tenants/demo-shop/revocations")).operationId, "getRevocationFeed");
  assert.equal((await findOperation("PUT", "/v1/policy")).template, "/v1/policy");
  assert.equal((await findOperation("POST", "/.well-known/jwks.json")).template, "/.well-known/jwks.json");
  assert.equal((await findOperation("POST", "/.well-known/other.json")).template, null);
  assert.equal((await loadSpec()).openapi, "3.1.0");
});
