// Demo page script: shows the decision the gate handed to this page, and
// sends the preference form to the origin (POST /v1/signals), which records
// each choice in the ledger, signs a bundle and sets it as the `sg_bundle`
// cookie (with an HttpOnly session cookie for this browser's subject).
const view = document.getElementById("decision-view");
const el = document.getElementById("sg-decision");
view.textContent = el ? JSON.stringify(JSON.parse(el.textContent), null, 2) : "(no decision: the page was not served through the gate)";

const form = document.getElementById("prefs");
const status = document.getElementById("status");

async function post(path, body, key) {
  const headers = { "Content-Type": "application/json" };
  if (key) headers["Idempotency-Key"] = key;
  const resp = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  const answer = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(answer.detail || `the origin answered ${resp.status}`);
  return answer;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const purposes = data.getAll("purpose").sort();
  if (purposes.length === 0) {
    status.textContent = "Nothing saved: choose what your preferences may be used for.";
    return;
  }
  // One consent record per set of purposes agreed to.
  const consent = `consent.${purposes.join(".")}`;
  const choices = data.getAll("interest").map((value) => ["interest", value]);
  for (const cls of ["language", "price_band"]) {
    const value = data.get(cls);
    if (value) choices.push([cls, value]);
  }
  status.textContent = "Saving…";
  try {
    for (const [signal_type, value] of choices) {
      // Only purposes the policy allows for the class travel with it.
      const allowed = signal_type === "interest" ? purposes : purposes.filter((p) => p === "personalization");
      if (allowed.length === 0) continue;
      await post("/v1/signals", {
        signal_type, value, purposes: allowed, consent_reference: allowed.length === purposes.length ? consent : `consent.${allowed.join(".")}`,
        source_context: { channel: "web", ui: "preference-form", page: location.pathname },
      }, crypto.randomUUID());
    }
    location.reload();
  } catch (e) {
    status.textContent = `Not saved: ${e.message}`;
  }
});

document.getElementById("forget").addEventListener("click", async () => {
  const resp = await fetch("/v1/signals");
  if (resp.ok) {
    const { consents } = await resp.json();
    for (const c of consents.filter((c) => c.status === "granted")) {
      await post(`/v1/consents/${encodeURIComponent(c.consent_id)}/revoke`, { justification: "user_request" });
    }
  }
  location.reload();
});
