// Demo page script: shows the decision the gate handed to this page, and
// sends the preference form to the development origin (/__sg/dev/bundle),
// which signs a bundle and sets the `sg_bundle` cookie.
const view = document.getElementById("decision-view");
const el = document.getElementById("sg-decision");
view.textContent = el ? JSON.stringify(JSON.parse(el.textContent), null, 2) : "(no decision: the page was not served through the gate)";

const form = document.getElementById("prefs");
const status = document.getElementById("status");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const age = Number(data.get("age_days") || 0);
  const signals = data.getAll("interest").map((value) => ({ class: "interest", value, age_days: age }));
  for (const cls of ["language", "price_band"]) {
    const value = data.get(cls);
    if (value) signals.push({ class: cls, value, age_days: age });
  }
  const purposes = data.getAll("purpose");
  status.textContent = "Saving…";
  const resp = await fetch("/__sg/dev/bundle", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ signals, purposes }),
  });
  const body = await resp.json();
  if (!resp.ok) {
    status.textContent = `Not saved: ${body.error}`;
    return;
  }
  location.reload();
});

document.getElementById("forget").addEventListener("click", async () => {
  await fetch("/__sg/dev/clear", { method: "POST" });
  location.reload();
});
