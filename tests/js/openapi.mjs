// Checks the origin's HTTP replies (and the tests' own request bodies)
// against its OpenAPI 3.1 description, docs/openapi.json, with Ajv's JSON
// Schema 2020-12 build.
//
//   await checkResponse(method, path, response, bodyText?)
//     method    "GET", "post", ...
//     path      the concrete path ("/v1/signals/sig_x/reconfirm"); a query
//               string, a fragment or a whole URL is fine (only the path is used)
//     response  a fetch Response, or anything with `status` and `headers`
//               (a Headers or a plain object), such as helpers.mjs's call()
//               result { status, headers, text }
//     bodyText  the body as read; defaults to `response.text` when that is a
//               string (a fetch Response's body can be read only once, so
//               pass it explicitly then)
//   Finds the operation (templated paths match one segment per `{param}`; a
//   method the path does not have, or a path the spec does not list, falls
//   back to the spec's `x-signalgate-other-methods` / `x-signalgate-other-routes`),
//   requires the status to be listed for it, the `Content-Type` media type to
//   be one the spec lists, and the body to validate against that media type's
//   schema: a JSON body (`application/json`, `*/*+json`) is parsed first; any
//   other listed media type (a JWS as `application/jose`, an HTML page, the
//   Prometheus text format) is accepted as text, and its schema, when the spec
//   gives one, describes that text as a JSON Schema string (OpenAPI 3.1).
//   Resolves to { operationId, template, status, mediaType, body } (`body` is
//   the parsed JSON, or the text for other media types) and throws an Error
//   naming the operation, the status and Ajv's errors otherwise.
//
//   await checkRequest(method, path, bodyObject)
//     Validates a request body the tests are about to send against the
//     operation's requestBody schema (application/json). `undefined` passes
//     when the body is optional. Throws the same way.
//
//   await findOperation(method, path) and await loadSpec() are exported too.
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";

export const SPEC_FILE = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "openapi.json");
const SPEC_ID = "https://signalgate.invalid/openapi.json";
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

let loaded;

/** The parsed spec and its Ajv instance (read once). */
async function state() {
  loaded ??= (async () => {
    const spec = JSON.parse(await readFile(SPEC_FILE, "utf8"));
    return { spec, ajv: newAjv(spec), validators: new Map() };
  })();
  return loaded;
}

/** An Ajv 2020-12 instance that knows the whole spec as one schema document, `SPEC_ID`. */
export function newAjv(spec) {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  // OpenAPI's numeric formats (data type annotations).
  ajv.addFormat("int32", { type: "number", validate: (n) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat("int64", { type: "number", validate: (n) => Number.isInteger(n) });
  ajv.addFormat("float", { type: "number", validate: () => true });
  ajv.addFormat("double", { type: "number", validate: () => true });
  // The document's own members (`openapi`, `paths`, ...) are not schema
  // keywords: Ajv compiles the root when it resolves a `$ref` into it. The
  // OpenAPI schema keywords beside JSON Schema's are annotations here.
  const extra = [...Object.keys(spec), "discriminator", "xml", "externalDocs", "example"];
  ajv.addVocabulary([...new Set(extra)].filter((k) => !k.startsWith("$") && !ajv.getKeyword(k)));
  ajv.addSchema({ ...spec, $id: SPEC_ID });
  return ajv;
}

/** The parsed docs/openapi.json. */
export async function loadSpec() {
  return (await state()).spec;
}

const escapeToken = (t) => encodeURIComponent(String(t).replace(/~/g, "~0").replace(/\//g, "~1"));
const pointer = (tokens) => "/" + tokens.map(escapeToken).join("/");

/** Follows OpenAPI `$ref`s (to components/responses, parameters, ...) inside the spec. */
function deref(spec, obj, where) {
  let tokens = where;
  for (let hops = 0; obj && typeof obj.$ref === "string"; hops++) {
    if (hops > 16 || !obj.$ref.startsWith("#/")) throw new Error(`openapi: cannot follow $ref ${obj.$ref}`);
    tokens = obj.$ref.slice(2).split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
    obj = tokens.reduce((o, t) => (o == null ? undefined : o[t]), spec);
    if (obj === undefined) throw new Error(`openapi: $ref ${where.join("/")} -> unresolved`);
  }
  return { obj, tokens };
}

function pathOnly(path) {
  let p = String(path);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) p = new URL(p).pathname;
  p = p.split("#")[0].split("?")[0];
  p = p.replace(/\/+$/, "");
  return p === "" ? "/" : p;
}

function templateRegex(template) {
  const parts = template.split(/\{[^}/]+\}/).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${parts.join("[^/]+")}$`);
}

/**
 * The operation for `method` and the concrete `path`:
 * { template, method, operationId, operation, tokens }, where `operation`
 * has `responses` (and maybe `requestBody`) and `tokens` is its location in
 * the spec. A literal path wins over a templated one. A method the path does
 * not have uses the path's `x-signalgate-other-methods`, else (and for an
 * unlisted path) the spec's `x-signalgate-other-routes`; `null` if neither.
 */
export async function findOperation(method, path) {
  const { spec } = await state();
  const m = String(method).toLowerCase();
  const p = pathOnly(path);
  const templates = Object.keys(spec.paths ?? {});
  const template =
    templates.find((t) => t === p) ?? templates.find((t) => t.includes("{") && templateRegex(t).test(p));
  if (template !== undefined) {
    const item = spec.paths[template];
    if (METHODS.includes(m) && item[m]) {
      const operation = item[m];
      return { template, method: m, operationId: operation.operationId ?? `${m} ${template}`, operation, tokens: ["paths", template, m] };
    }
    if (item["x-signalgate-other-methods"]) {
      return {
        template,
        method: m,
        operationId: `${m.toUpperCase()} ${template} (x-signalgate-other-methods)`,
        operation: item["x-signalgate-other-methods"],
        tokens: ["paths", template, "x-signalgate-other-methods"],
      };
    }
  }
  if (spec["x-signalgate-other-routes"]) {
    return {
      template: null,
      method: m,
      operationId: `${m.toUpperCase()} ${p} (x-signalgate-other-routes)`,
      operation: spec["x-signalgate-other-routes"],
      tokens: ["x-signalgate-other-routes"],
    };
  }
  return null;
}

/** The compiled validator of the schema at `tokens` in the spec (cached). */
async function validatorAt(tokens) {
  const { ajv, validators } = await state();
  const ref = `${SPEC_ID}#${pointer(tokens)}`;
  let v = validators.get(ref);
  if (!v) {
    v = ajv.compile({ $ref: ref });
    validators.set(ref, v);
  }
  return v;
}

function headerOf(headers, name) {
  if (!headers) return null;
  if (typeof headers.get === "function") return headers.get(name);
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? null : headers[key];
}

const mediaTypeOf = (contentType) => (contentType == null ? null : String(contentType).split(";")[0].trim().toLowerCase());

/** Whether a media type's body is JSON (`application/json`, or any `+json` suffix such as `application/problem+json`). */
export const isJsonMediaType = (mediaType) => {
  const mt = mediaTypeOf(mediaType);
  return mt === "application/json" || (mt !== null && /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+\+json$/.test(mt));
};

function ajvMessage(errors) {
  const list = (errors ?? []).slice(0, 12).map((e) => `  ${e.instancePath || "(root)"} ${e.message}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ""}`);
  if ((errors?.length ?? 0) > 12) list.push(`  ... and ${errors.length - 12} more`);
  return list.join("\n");
}

const clip = (text, n = 600) => (text.length > n ? `${text.slice(0, n)}...` : text);

/**
 * Checks one reply against the spec; see the comment at the top.
 * @returns {Promise<{operationId: string, template: string|null, status: number, mediaType: string|null, body: unknown}>}
 */
export async function checkResponse(method, path, response, bodyText) {
  const { spec } = await state();
  const status = Number(response?.status);
  const text = bodyText ?? (typeof response?.text === "string" ? response.text : undefined);
  const found = await findOperation(method, path);
  const what = `${String(method).toUpperCase()} ${pathOnly(path)}`;
  if (!found) throw new Error(`openapi: ${what}: no operation in docs/openapi.json`);
  const label = `${what} [${found.operationId}] -> ${status}`;
  const responses = found.operation.responses ?? {};
  const key = [String(status), `${String(status)[0]}XX`, "default"].find((k) => k in responses);
  if (key === undefined) {
    throw new Error(`openapi: ${label}: status ${status} is not listed for this operation (listed: ${Object.keys(responses).join(", ")})${text ? `\nbody: ${clip(text)}` : ""}`);
  }
  const { obj: resp, tokens: respTokens } = deref(spec, responses[key], [...found.tokens, "responses", key]);
  const content = resp.content ?? {};
  const listed = Object.keys(content);
  const contentType = headerOf(response.headers, "content-type");
  const mediaType = mediaTypeOf(contentType);
  if (listed.length === 0) {
    if (text) throw new Error(`openapi: ${label}: the spec lists no body but the reply has one: ${clip(text)}`);
    return { operationId: found.operationId, template: found.template, status, mediaType, body: undefined };
  }
  const mt = listed.find((k) => k.toLowerCase() === mediaType);
  if (mt === undefined) {
    throw new Error(`openapi: ${label}: Content-Type ${JSON.stringify(contentType)} is not one the spec lists (${listed.join(", ")})`);
  }
  if (text === undefined) throw new Error(`openapi: ${label}: no body text to check (pass bodyText)`);
  if (!isJsonMediaType(mt)) {
    // Text, not JSON: a schema describes the text itself (a string).
    if (content[mt].schema !== undefined) {
      const validate = await validatorAt([...respTokens, "content", mt, "schema"]);
      if (!validate(text)) {
        throw new Error(`openapi: ${label} (${mt}): the body does not match the schema:\n${ajvMessage(validate.errors)}\nbody: ${clip(text)}`);
      }
    }
    return { operationId: found.operationId, template: found.template, status, mediaType: mt, body: text };
  }
  let body;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new Error(`openapi: ${label}: the body is not JSON (${e.message}): ${clip(text)}`);
  }
  if (content[mt].schema !== undefined) {
    const validate = await validatorAt([...respTokens, "content", mt, "schema"]);
    if (!validate(body)) {
      throw new Error(`openapi: ${label} (${mt}): the body does not match the schema:\n${ajvMessage(validate.errors)}\nbody: ${clip(text)}`);
    }
  }
  return { operationId: found.operationId, template: found.template, status, mediaType: mt, body };
}

/** Validates a request body the tests send; see the comment at the top. */
export async function checkRequest(method, path, bodyObject) {
  const { spec } = await state();
  const found = await findOperation(method, path);
  const what = `${String(method).toUpperCase()} ${pathOnly(path)}`;
  if (!found || found.template === null || !found.operation.operationId) {
    throw new Error(`openapi: ${what}: no such operation in docs/openapi.json`);
  }
  const label = `${what} [${found.operationId}] request body`;
  if (!found.operation.requestBody) {
    if (bodyObject === undefined) return;
    throw new Error(`openapi: ${label}: the operation takes no body`);
  }
  const { obj: rb, tokens } = deref(spec, found.operation.requestBody, [...found.tokens, "requestBody"]);
  if (bodyObject === undefined) {
    if (rb.required) throw new Error(`openapi: ${label}: the body is required`);
    return;
  }
  const mt = Object.keys(rb.content ?? {}).find((k) => mediaTypeOf(k) === "application/json");
  if (mt === undefined) throw new Error(`openapi: ${label}: the spec lists no application/json body`);
  const validate = await validatorAt([...tokens, "content", mt, "schema"]);
  if (!validate(bodyObject)) {
    throw new Error(`openapi: ${label}: does not match the schema:\n${ajvMessage(validate.errors)}\nbody: ${clip(JSON.stringify(bodyObject))}`);
  }
}
