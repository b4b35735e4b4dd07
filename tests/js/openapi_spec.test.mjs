// docs/openapi.json, the origin's OpenAPI 3.1 description, and the validator
// the end-to-end tests use (tests/js/openapi.mjs): the document is well
// formed, every $ref resolves, every route of src/origin/api.rs and every
// problem code of src/ledger/error.rs is described, Ajv compiles every
// schema, and the validator accepts good replies and refuses bad ones.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { checkResponse, checkRequest, findOperation, loadSpec, newAjv, SPEC_FILE } from "./openapi.mjs";

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
  consent_status: "granted", provenance_hash: B(22, "p"), status: "active",
};
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
    "ApiKeyReply", "VerifyReply"]) {
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

test("the paths are exactly the routes of src/origin/api.rs, and 405 where the router gives it", () => {
  const api = readFileSync(join(ROOT, "src", "origin", "api.rs"), "utf8");
  const template = (segs) => "/" + segs.split(",").map((s) => s.trim()).map((s) => (s.startsWith('"') ? s.slice(1, -1) : `{${s}}`)).join("/");
  const routes = [...api.matchAll(/\("(GET|POST|PUT|PATCH|DELETE)", \[([^\]]*)\]\)/g)].map(([, m, segs]) => `${m.toLowerCase()} ${template(segs)}`);
  assert.ok(routes.length >= 11, routes.join(", "));
  const described = operations.map(({ method, path }) => `${method} ${path}`);
  assert.deepEqual([...described].sort(), [...new Set(routes)].sort());
  const other = api.match(/\(\s*_,\s*((?:\|?\s*\[[^\]]*\]\s*)+),?\s*\) => \{?\s*Err\(LedgerError::MethodNotAllowed/);
  assert.ok(other, "the 405 arm of the router");
  const with405 = [...other[1].matchAll(/\[([^\]]*)\]/g)].map(([, segs]) => template(segs));
  const listed = Object.entries(spec.paths).filter(([, item]) => item["x-signalgate-other-methods"]?.responses?.["405"]).map(([p]) => p);
  const anyName = (t) => t.replace(/\{[^}]*\}/g, "{}");
  assert.deepEqual(listed.map(anyName).sort(), with405.map(anyName).sort());
});

test("every operation has a 2xx, its problem responses, and the right parameters and security", () => {
  for (const { path, method, op } of operations) {
    const where = `${method.toUpperCase()} ${path}`;
    const statuses = Object.keys(op.responses);
    assert.ok(op.operationId, `${where}: operationId`);
    assert.equal(statuses.filter((s) => /^2\d\d$/.test(s)).length, 1, `${where}: one 2xx`);
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
      } else {
        assert.equal(types.length, 1, `${where} ${s}`);
        assert.ok(["application/json", "application/jwk-set+json"].includes(types[0]), `${where} ${s}: ${types[0]}`);
      }
    }
    if (method === "post" && !path.startsWith("/v1/admin") && path !== "/v1/session/clear") {
      assert.ok(statuses.includes("400") && statuses.includes("413") && statuses.includes("422"), `${where}: body problems`);
    }
  }
  const op = (m, p) => operations.find((o) => o.method === m && o.path === p).op;
  const params = (o) => (o.parameters ?? []).map(deref).map((p) => `${p.in}:${p.name}`);
  for (const p of ["/v1/signals", "/v1/signals/{id}/reconfirm", "/v1/consents/{id}/revoke"]) {
    assert.ok(params(op("post", p)).includes("header:Idempotency-Key"), p);
    assert.ok(op("post", p).responses["409"], `${p}: 409`);
    const ok = deref(Object.entries(op("post", p).responses).find(([s]) => s < "300")[1]);
    assert.ok(ok.headers["Set-Cookie"], `${p}: Set-Cookie`);
  }
  assert.ok(params(op("get", "/v1/signals")).includes("query:subject_id"));
  assert.ok(params(op("get", "/v1/tenants/{tenant}/revocations")).includes("query:since"));
  assert.ok(params(op("post", "/v1/admin/subjects/{subject}/verify")).includes("query:tenant"));
  assert.deepEqual(op("post", "/v1/admin/api-keys").security, [{ admin: [] }]);
  assert.deepEqual(op("get", "/v1/keys").security, []);
  assert.deepEqual(op("post", "/v1/signals").security, [{ apiKey: [] }, { session: [] }, {}]);
  assert.equal(op("post", "/v1/signals").responses["201"].content["application/json"].schema.$ref, "#/components/schemas/SubmitReply");
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
  await checkResponse("GET", "/v1/signals?subject_id=s_1", json(200, {
    subject_id: "s_1", signals: [{ ...signal, freshness: { state: "unknown" } }],
    consents: [{ consent_id: "c-lang", purposes: ["personalization"], scopes: ["web"], legal_basis: "consent", status: "granted", granted_at: 1_800_000_000 }],
  }));
  await checkResponse("GET", "/v1/tenants/demo-shop/revocations?since=0", json(200, { seq: 3, bundles: [{ bundle_id: bundle.bundle_id, expires_at: 1_800_086_400 }], more: false }));
  const jwks = { keys: [{ kty: "OKP", crv: "Ed25519", x: B(43, "x"), kid: "k1", alg: "EdDSA", use: "sig" }] };
  await checkResponse("GET", "/.well-known/jwks.json", json(200, jwks, "application/jwk-set+json"));
  await checkResponse("GET", "/v1/keys", json(200, jwks, "application/jwk-set+json"));
  await checkResponse("GET", "/v1/policy", json(200, JSON.parse(readFileSync(join(ROOT, "www", "policy.json"), "utf8"))));
  await checkResponse("POST", "/v1/admin/api-keys", json(201, {
    tenant: "demo-shop", key_id: `k_${B(11, "k")}`, api_key: `sgk.ZGVtby1zaG9w.k_${B(11, "k")}.${B(43, "z")}`, note: "shown once: store it now",
  }));
  await checkResponse("POST", "/v1/admin/subjects/s_1/verify?tenant=demo-shop", json(200, {
    events: 4, chain_ok: false, first_bad_index: 2, first_bad_seq: 3, problem: "hash mismatch", projection_matches: true,
  }));
  // Problems, including a 405 on another method and a 404 on an unlisted route.
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
  await rejects(checkResponse("GET", "/v1/signals", problemReply(problem("idempotency_in_flight", 409, "A request with this idempotency key is in progress", "x", "Idempotency-Key"))), /listSignals.*status 409 is not listed/);
  await rejects(checkResponse("POST", "/v1/bundles", problemReply(problem("unknown_signal", 404, "No such signal", "x"))), /status 404 is not listed/);
  // A problem whose code, status, title or field disagree.
  await rejects(checkResponse("POST", "/v1/signals", problemReply({ ...problem("missing_field", 422, "A required field is missing", "x", "value"), status: 400 })), /status must be equal to constant/);
  await rejects(checkResponse("POST", "/v1/signals", problemReply(problem("forbidden", 403, "Forbidden", "x"))), /title must be equal to constant/);
  await rejects(checkResponse("POST", "/v1/signals", problemReply(problem("forbidden", 403, "Not allowed", "x", "value"))), /must NOT be valid/);
  await rejects(checkResponse("POST", "/v1/signals", problemReply(problem("unknown_class", 422, "Unknown signal type", "x"))), /required property 'field'/);
  await rejects(checkResponse("POST", "/v1/signals", problemReply(problem("teapot", 422, "x", "x"))), /code must be equal to one of the allowed values/);
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
  // Not JSON at all, and a body the checker was not given.
  await rejects(checkResponse("POST", "/v1/bundles", { status: 201, headers: { "content-type": "application/json" }, text: "<html>" }), /not JSON/);
  await rejects(checkResponse("POST", "/v1/bundles", { status: 201, headers: { "content-type": "application/json" } }), /no body text/);
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
