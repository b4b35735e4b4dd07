//! Sending one webhook delivery over HTTP from the tenant's directory: a
//! POST with the signed headers, no redirects followed (a redirect is a
//! failure), a 10 s timeout; any 2xx is delivered.

use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

use crate::ledger::Outgoing;

/// How long one delivery may take.
const TIMEOUT_MS: u64 = 10_000;

/// Sends `out`; returns the HTTP status received, or the error.
pub async fn post(out: &Outgoing) -> (Option<u16>, Option<String>) {
    let headers = Headers::new();
    for (k, v) in &out.headers {
        if headers.set(k, v).is_err() {
            return (None, Some(format!("header {k} refused")));
        }
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(Some(wasm_bindgen::JsValue::from_str(&out.body)));
    let req = match Request::new_with_init(&out.url, &init) {
        Ok(r) => r,
        Err(e) => return (None, Some(format!("request: {e}"))),
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(req);
    let send = fetch.send_with_signal(&signal);
    let timeout = Delay::from(std::time::Duration::from_millis(TIMEOUT_MS));
    futures_util::pin_mut!(send);
    futures_util::pin_mut!(timeout);
    match futures_util::future::select(send, timeout).await {
        futures_util::future::Either::Left((Ok(resp), _)) => {
            let status = resp.status_code();
            (Some(status), (!(200..300).contains(&status)).then(|| format!("status {status}")))
        }
        futures_util::future::Either::Left((Err(e), _)) => (None, Some(format!("fetch: {e}"))),
        futures_util::future::Either::Right(_) => {
            controller.abort();
            (None, Some(format!("no answer within {} s", TIMEOUT_MS / 1000)))
        }
    }
}
