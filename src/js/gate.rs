//! `Gate`: a policy and a key set parsed once, with the isolate's cache of
//! verified bundles, reused for every decision.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::convert::{self, Ops, Strings};
use super::ed25519::{NodeVerifier, SubtleVerifier};
use super::error::coded;
use super::tokens::TokenCache;
use super::LastContext;
use crate::bundle::{
    strict, BundleError, Expectations, KeySet, PreparedBundle, Revocations, UnverifiedBundle, VerifiedBundle,
};
use crate::eval::{Context, Decision, Detail, Gate as CoreGate, MAX_BUNDLE_LIMIT};
use crate::failure::FailureCode;
use crate::model::Policy;
use crate::time::UnixTime;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct GateOptions {
    audience: String,
    #[serde(default)]
    revocations: Option<String>,
    #[serde(default, rename = "maxBundleBytes")]
    max_bundle_bytes: Option<usize>,
    /// `{kid: [tenant, ...]}`: the tenants each key may sign for.
    #[serde(default, rename = "keyTenants")]
    key_tenants: Option<std::collections::BTreeMap<String, Vec<String>>>,
    /// Whose Ed25519 checks signatures: `"auto"` (the default: the host's
    /// where it has one), `"webcrypto"` (WebCrypto's only, in the `...Async`
    /// methods) or `"wasm"` (always `verify_strict` in wasm).
    #[serde(default)]
    ed25519: Ed25519Choice,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Ed25519Choice {
    #[default]
    Auto,
    WebCrypto,
    Wasm,
}

/// The core gate, its caches and the host's Ed25519; decisions need them
/// mutably.
pub(super) struct Inner {
    pub(super) gate: CoreGate,
    /// Verified bundles by token, so a repeat decision neither copies the
    /// token into wasm nor verifies its signature again.
    tokens: TokenCache,
    /// What `gate` expects of a bundle, for bundles whose signature a host
    /// checked (`CoreGate::verify` checks the others itself).
    expect: Expectations,
    max_bundle_bytes: usize,
    /// Node's synchronous Ed25519, where the runtime has it.
    node: Option<NodeVerifier>,
    /// WebCrypto's Ed25519, for the asynchronous methods.
    subtle: Option<SubtleVerifier>,
    strings: Strings,
    ops: Ops,
    /// The last context converted, not converted again when passed again.
    context: LastContext,
}

/// A gate built once from a policy and a key set, reused for every decision.
#[wasm_bindgen]
pub struct Gate {
    // JS calls methods through a shared reference; the gate's evaluator
    // buffers and the caches change with each decision. Shared with the
    // asynchronous methods' pending work, which may outlive `free()`.
    pub(super) inner: Rc<RefCell<Inner>>,
}

/// The bundle argument as JS passed it.
enum Token {
    /// `undefined`, `null` or `""`: no bundle.
    Absent,
    /// A string: the token.
    Text,
    /// Anything else: not a bundle at all.
    NotAString,
}

fn token_kind(bundle: &JsValue) -> Token {
    if bundle.is_undefined() || bundle.is_null() {
        Token::Absent
    } else if bundle.is_string() {
        Token::Text
    } else {
        Token::NotAString
    }
}

#[wasm_bindgen]
impl Gate {
    /// `new Gate(policyJson, jwksJson, { audience, revocations?, maxBundleBytes?, keyTenants?, ed25519? })`.
    /// Throws an `Error` with `code` `bad_options`, `bad_policy`, `bad_keys` or
    /// `bad_revocations` (every problem named in the one-line message).
    /// `ed25519: "wasm"` keeps signature checks in wasm; by default
    /// (`"auto"`) they go to the host's own Ed25519 where it has one (Node's
    /// `crypto`; WebCrypto for the `...Async` methods), with the same results;
    /// `"webcrypto"` uses WebCrypto's only (the `...Async` methods).
    ///
    /// ```js
    /// const gate = new Gate(policyJson, jwksJson, { audience: "signalgate", ed25519: "auto" });
    /// gate.ed25519; // "node:crypto" in Node, "wasm" elsewhere (the ...Async methods use WebCrypto there)
    /// ```
    #[wasm_bindgen(constructor)]
    pub fn new(
        policy_json: &str,
        jwks_json: &str,
        #[wasm_bindgen(unchecked_param_type = "GateOptions")] options: JsValue,
    ) -> Result<Gate, JsValue> {
        let opts: GateOptions =
            serde_wasm_bindgen::from_value(options).map_err(|e| coded("bad_options", format!("options: {e}")))?;
        let policy = Policy::from_json(policy_json).map_err(|e| coded("bad_policy", e))?;
        let mut keys = KeySet::from_json(jwks_json).map_err(|e| coded("bad_keys", e))?;
        if let Some(map) = opts.key_tenants {
            keys = keys.with_key_tenants(map).map_err(|e| coded("bad_options", format!("keyTenants: {e}")))?;
        }
        let revocations = match opts.revocations.as_deref() {
            Some(text) => Revocations::from_json(text).map_err(|e| coded("bad_revocations", e))?,
            None => Revocations::default(),
        };
        // As `CoreGate::new` and `with_max_bundle_bytes` set them.
        let expect =
            Expectations { max_lifetime: Some(policy.max_bundle_lifetime), ..Expectations::new(&opts.audience, None) };
        let max_bundle_bytes =
            opts.max_bundle_bytes.map_or(crate::bundle::MAX_BUNDLE_BYTES, |b| b.min(MAX_BUNDLE_LIMIT));
        let (node, subtle) = match opts.ed25519 {
            Ed25519Choice::Auto => (NodeVerifier::new(&keys), SubtleVerifier::new(&keys)),
            Ed25519Choice::WebCrypto => (None, SubtleVerifier::new(&keys)),
            Ed25519Choice::Wasm => (None, None),
        };
        let mut gate = CoreGate::new(policy, keys, &opts.audience).with_revocations(revocations);
        if let Some(max) = opts.max_bundle_bytes {
            gate = gate.with_max_bundle_bytes(max);
        }
        let inner = Inner {
            gate,
            tokens: TokenCache::default(),
            expect,
            max_bundle_bytes,
            node,
            subtle,
            strings: Strings::default(),
            ops: Ops::default(),
            context: LastContext::default(),
        };
        Ok(Gate { inner: Rc::new(RefCell::new(inner)) })
    }

    /// The full decision (with reasons) as a plain object. Never throws: a
    /// bad bundle or context gives `{ tier: "generic", segments: [], error }`.
    ///
    /// A bundle verified before is found by a JS-side map (its signature,
    /// then the whole string compared), never copied into wasm again, and
    /// re-checked for time, audience and revocation on every call.
    ///
    /// ```js
    /// const d = gate.decide(cookie, { purposes: ["personalization"], channel: "web",
    ///                                 tenant: "demo-shop", scope: "web" });
    /// if (d.error) console.warn(d.error.code, d.error.message);
    /// for (const s of d.reasons.signals) console.log(s.signal, s.used_for, s.withheld);
    /// ```
    #[wasm_bindgen(unchecked_return_type = "Decision")]
    pub fn decide(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] bundle: JsValue,
        #[wasm_bindgen(unchecked_param_type = "GateContext")] context_value: JsValue,
    ) -> JsValue {
        let inner = &mut *self.inner.borrow_mut();
        let d = inner.decide(&bundle, context_value, Detail::Full);
        convert::decision(&d, &mut inner.ops)
    }

    /// Only what the policy's exposure rules let page code see.
    ///
    /// ```js
    /// const ctx = { purposes: ["personalization"], channel: "web", tenant: "demo-shop", scope: "web" };
    /// // Converted once: later calls with the same members reuse the conversion.
    /// const { tier, segments } = gate.decideForPage(cookie, ctx);
    /// ```
    #[wasm_bindgen(js_name = decideForPage, unchecked_return_type = "PageDecision")]
    pub fn decide_for_page(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] bundle: JsValue,
        #[wasm_bindgen(unchecked_param_type = "GateContext")] context_value: JsValue,
    ) -> JsValue {
        let inner = &mut *self.inner.borrow_mut();
        let d = inner.decide(&bundle, context_value, Detail::Summary);
        inner.page(&d)
    }

    /// `decide`, with a bundle not seen before verified by WebCrypto's
    /// Ed25519 where the runtime has one (started as soon as the header is
    /// read, so that it runs while the claims are parsed); otherwise as
    /// `decide` verifies. Resolves to exactly what `decide` returns; never
    /// rejects. The checks of strict Ed25519 that need no curve arithmetic
    /// (canonical `S`, `R` not of small order) are made in wasm first.
    ///
    /// ```js
    /// // In a Worker or a browser: the host's Ed25519, the same answer as decide.
    /// const d = await gate.decideAsync(request.headers.get("Sg-Bundle"), ctx);
    /// ```
    #[wasm_bindgen(js_name = decideAsync, unchecked_return_type = "Promise<Decision>")]
    pub fn decide_async(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] bundle: JsValue,
        #[wasm_bindgen(unchecked_param_type = "GateContext")] context_value: JsValue,
    ) -> js_sys::Promise {
        self.decide_later(bundle, context_value, Detail::Full)
    }

    /// `decideForPage`, verified as `decideAsync` verifies. Resolves to
    /// exactly what `decideForPage` returns; never rejects.
    ///
    /// ```js
    /// const { tier, segments } = await gate.decideForPageAsync(cookie, ctx);
    /// ```
    #[wasm_bindgen(js_name = decideForPageAsync, unchecked_return_type = "Promise<PageDecision>")]
    pub fn decide_for_page_async(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | null | undefined")] bundle: JsValue,
        #[wasm_bindgen(unchecked_param_type = "GateContext")] context_value: JsValue,
    ) -> js_sys::Promise {
        self.decide_later(bundle, context_value, Detail::Summary)
    }

    /// The policy version.
    #[wasm_bindgen(getter, js_name = policyVersion)]
    pub fn policy_version(&self) -> String {
        self.inner.borrow().gate.policy().version().to_string()
    }

    /// Which Ed25519 the synchronous methods verify with: `"node:crypto"`
    /// or `"wasm"`.
    #[wasm_bindgen(getter, unchecked_return_type = "\"node:crypto\" | \"wasm\"")]
    pub fn ed25519(&self) -> String {
        if self.inner.borrow().node.is_some() { "node:crypto" } else { "wasm" }.to_string()
    }

    /// How many verified bundles the gate keeps (at most 1024, within 8 MiB).
    #[wasm_bindgen(getter, js_name = cachedBundles)]
    pub fn cached_bundles(&self) -> u32 {
        self.inner.borrow().tokens.len() as u32
    }
}

/// What a decision that waits for WebCrypto needs after the wait.
struct Pending {
    token: JsValue,
    text: String,
    prepared: PreparedBundle,
    ctx: Context,
    /// The check, when it could start before the claims were parsed.
    started: Option<JsFuture>,
}

impl Gate {
    fn decide_later(&self, bundle: JsValue, context_value: JsValue, detail: Detail) -> js_sys::Promise {
        let inner = self.inner.clone();
        let pending = {
            let mut guard = inner.borrow_mut();
            match guard.start(&bundle, context_value, detail) {
                Ok(decision) => {
                    let out = guard.output(&decision, detail);
                    return js_sys::Promise::resolve(&out);
                }
                Err(pending) => pending,
            }
        };
        let subtle = inner.borrow().subtle.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut pending = pending;
            let verdict = match (pending.started.take(), &subtle) {
                (Some(started), _) => SubtleVerifier::verdict(started).await,
                (None, Some(s)) => {
                    let p = &pending.prepared;
                    s.verify(p.key().kid(), p.signing_input(), p.signature()).await
                }
                (None, None) => None,
            };
            let mut guard = inner.borrow_mut();
            let decision = guard.finish(pending, verdict, detail);
            Ok(guard.output(&decision, detail))
        })
    }
}

impl Inner {
    /// The decision for a bundle argument and a JS context (verifying, and
    /// caching, a bundle not seen before).
    fn decide(&mut self, bundle: &JsValue, context_value: JsValue, detail: Detail) -> Decision {
        let ctx = match self.context.context(context_value) {
            Ok(ctx) => ctx,
            Err(msg) => return Decision::failed(self.gate.policy().version(), FailureCode::BadContext, msg),
        };
        match token_kind(bundle) {
            Token::Absent => return self.gate.decide_with(None, &ctx, detail),
            Token::NotAString => return self.gate.failed(&BundleError::NotCompactJws),
            Token::Text => {}
        }
        if let Some(b) = self.tokens.get(bundle) {
            return self.gate.decide_verified_with(b, &ctx, detail);
        }
        let text = bundle.as_string().unwrap_or_default();
        if text.is_empty() {
            return self.gate.decide_with(None, &ctx, detail);
        }
        let verified = if self.node.is_some() {
            self.prepare(&text).and_then(|p| {
                let verdict = self.node.as_mut().and_then(|node| node.verify(&p));
                self.finish_verify(p, verdict, ctx.now)
            })
        } else {
            self.gate.verify(&text, ctx.now)
        };
        self.decided(bundle, &text, verified, &ctx, detail)
    }

    /// Like `decide`, but a bundle to be verified by WebCrypto is handed
    /// back to wait for it. The check starts as soon as the header is read,
    /// so that the host works on it while the claims are parsed here. Where
    /// Node's synchronous `crypto` is there, it is used instead: it answers
    /// sooner than a round trip through WebCrypto's thread pool (measured in
    /// Node 22: about 75 µs against 105 µs for the same verification).
    fn start(&mut self, bundle: &JsValue, context_value: JsValue, detail: Detail) -> Result<Decision, Box<Pending>> {
        let subtle = match &self.subtle {
            Some(s) if self.node.is_none() && bundle.is_string() && self.tokens.get(bundle).is_none() => s.clone(),
            _ => return Ok(self.decide(bundle, context_value, detail)),
        };
        let ctx = match self.context.context(context_value) {
            Ok(ctx) => ctx,
            Err(msg) => return Ok(Decision::failed(self.gate.policy().version(), FailureCode::BadContext, msg)),
        };
        let text = bundle.as_string().unwrap_or_default();
        if text.is_empty() {
            return Ok(self.gate.decide_with(None, &ctx, detail));
        }
        let split = match UnverifiedBundle::split(&text, self.max_bundle_bytes) {
            Ok(split) => split,
            Err(e) => return Ok(self.gate.failed(&e)),
        };
        let started = strict::passes_prechecks(split.signature())
            .then(|| subtle.start(split.kid(), split.signing_input(), split.signature()))
            .flatten();
        // Failures are reported in `parse` then `verify` order whatever the
        // host says: claims, then the key, then the signature.
        match split.parse_claims().and_then(|b| b.prepare(self.gate.keys())) {
            Ok(prepared) if started.is_some() || subtle.has_key(prepared.key().kid()) => {
                Err(Box::new(Pending { token: bundle.clone(), text, prepared, ctx, started }))
            }
            Ok(prepared) => {
                let verified = self.finish_verify(prepared, None, ctx.now);
                Ok(self.decided(bundle, &text, verified, &ctx, detail))
            }
            Err(e) => Ok(self.gate.failed(&e)),
        }
    }

    /// The decision once WebCrypto answered (`None`: it could not).
    fn finish(&mut self, pending: Box<Pending>, verdict: Option<bool>, detail: Detail) -> Decision {
        let Pending { token, text, prepared, ctx, .. } = *pending;
        if let Some(b) = self.tokens.get(&token) {
            // Verified meanwhile by another call.
            return self.gate.decide_verified_with(b, &ctx, detail);
        }
        let verified = self.finish_verify(prepared, verdict, ctx.now);
        self.decided(&token, &text, verified, &ctx, detail)
    }

    fn prepare(&self, text: &str) -> Result<PreparedBundle, BundleError> {
        UnverifiedBundle::parse_with_limit(text, self.max_bundle_bytes)?.prepare(self.gate.keys())
    }

    /// The rest of verification after the host's verdict (`None`: verify in
    /// wasm).
    fn finish_verify(
        &self,
        prepared: PreparedBundle,
        verdict: Option<bool>,
        now: UnixTime,
    ) -> Result<VerifiedBundle, BundleError> {
        let keys = self.gate.keys();
        match verdict {
            Some(good) => prepared.verified_by_host(good, keys, &self.expect, now),
            None => prepared.verify(keys, &self.expect, now),
        }
    }

    /// Decides on a verification's outcome and caches a verified bundle.
    /// (Revocation is checked by `decide_verified_with`, for fresh and cached
    /// bundles alike.)
    fn decided(
        &mut self,
        token: &JsValue,
        text: &str,
        verified: Result<VerifiedBundle, BundleError>,
        ctx: &Context,
        detail: Detail,
    ) -> Decision {
        match verified {
            Ok(b) => {
                let d = self.gate.decide_verified_with(&b, ctx, detail);
                self.tokens.insert(token, text, b);
                d
            }
            Err(e) => self.gate.failed(&e),
        }
    }

    /// The page view: only what the policy's exposure rules let page code see.
    fn page(&mut self, d: &Decision) -> JsValue {
        let mut page = d.for_page(self.gate.policy().exposure());
        if let (Some(obj), Some(err)) = (page.as_object_mut(), &d.error) {
            obj.insert("error".into(), serde_json::json!({ "code": err.code }));
        }
        self.strings.value(&page).unwrap_or(JsValue::NULL)
    }

    fn output(&mut self, d: &Decision, detail: Detail) -> JsValue {
        match detail {
            Detail::Full => convert::decision(d, &mut self.ops),
            _ => self.page(d),
        }
    }
}
