// The preference centre. It shows what the visitor has already shared
// (ticked and selected from the ledger), and on "Save" sends only what
// changed: each new or changed choice is one capture under the consent for
// its set of purposes (`consent.<purposes, sorted>`), each choice taken back
// is deleted, and an agreement no choice uses any more is withdrawn.
// Offline, captures wait on this device and are sent when the browser is
// back online; the page says so.
import { connect, mountReconfirm, setStatus, problemText, ready } from "./site.mjs";
import { signalLabel, purposeList, classRank } from "./words.mjs";

// Each class the form asks about: its control, one value or many, and the
// purposes it is asked for (see the purpose text beside each fieldset).
const CLASSES = {
  interest: { many: true, purposes: ["personalization"] },
  language: { many: false, purposes: ["personalization", "support_routing"] },
  price_band: { many: false, purposes: ["personalization"] },
  contact_channel: { many: true, purposes: ["marketing_email", "support_routing"] },
  contact_frequency: { many: false, purposes: ["marketing_email"] },
  sms_quiet_hours: { many: false, purposes: ["marketing_email", "support_routing"] },
};
const EXTRA_INTEREST_PURPOSES = ["marketing_email", "targeted_advertising"];

const form = document.getElementById("prefs");
const status = document.getElementById("pref-status");
const summary = document.getElementById("shared-text");
let current = []; // the usable signals the ledger holds for this visitor
let waiting = []; // choices saved on this device, not yet acknowledged by the origin
let unread = false; // what the ledger holds could not be read (offline)
const awaiting = new Set(); // ids of the waiting choices this page has shown or queued
let edited = false; // the visitor changed the form since it was last filled
let baseline = []; // what the form's controls were last filled from (shared and waiting)
let reads = 0; // reads of what is shared, started so far (see load)
let lastRead = Promise.resolve();
let busy = false;

const sg = await connect();
if (!sg) {
  setStatus(status, "Your choices cannot be saved right now: our preference service is not reachable. Nothing was shared.", "error");
  form.querySelector("#save").disabled = true;
} else {
  if (sg.gpc) {
    const ads = form.querySelector('input[name="interest_purpose"][value="targeted_advertising"]');
    ads.disabled = true;
    ads.checked = false;
    document.getElementById("gpc-note").hidden = false;
  }
  await load();
  form.addEventListener("change", () => { edited = true; });
  // A delivery (from this tab or another one) refreshes what is shown; it
  // never undoes what the visitor is changing in the form right now.
  sg.on?.("delivered", async (d) => {
    if (awaiting.delete(d?.id)) setStatus(status, "Sent: your choices are saved with us now.", "ok");
    await load();
  });
  sg.on?.("failed", (e) => setStatus(status, `A saved choice could not be sent: ${problemText(e?.error ?? e)}.`, "error"));
  await mountReconfirm(sg, { onDone: async (text) => { document.getElementById("reconfirm").hidden = true; await load({ refill: true }); setStatus(status, text, "ok"); status.focus(); } });
}
ready();

/**
 * Reads what is shared and shows it: ticked, selected, and listed. Choices
 * still waiting on this device are shown ticked too, marked as waiting.
 * Reads can overlap (deliveries from several tabs); only the last one
 * started is shown, and an earlier caller waits for it.
 */
function load({ refill = false } = {}) {
  const n = ++reads;
  lastRead = read().then((seen) => {
    if (n !== reads) return;
    ({ current, waiting, unread } = seen);
    if (seen.problem) setStatus(status, `We could not read what you shared: ${problemText(seen.problem)}.`, "error");
    // What the visitor is changing right now is left alone, unless the form was just saved.
    fill({ keepInputs: edited && !refill });
  });
  return shown();
}
function shown() {
  const n = reads;
  return lastRead.then(() => (n === reads ? undefined : shown()));
}

/** The waiting choices (read first: one delivered in between shows in both lists), then the ledger's. */
async function read() {
  const seen = { current: [], waiting: [], unread: false, problem: null };
  try {
    const pending = await sg.pending();
    for (const q of pending) awaiting.add(q.id);
    seen.waiting = pending.map((q) => ({ signal_type: q.choice.signal_type, value: q.choice.value, purposes: q.choice.purposes || [q.choice.purpose] }))
      .filter((q) => CLASSES[q.signal_type]);
  } catch { /* no queue: nothing waits */ }
  try {
    const { signals = [] } = await sg.signals();
    seen.current = signals.filter((s) => usable(s) && CLASSES[s.signal_type])
      .sort((a, b) => classRank(a.signal_type) - classRank(b.signal_type) || signalLabel(a).localeCompare(signalLabel(b)));
  } catch (e) {
    if (e?.status === 0) seen.unread = true;
    else if (e?.status && e.status !== 401 && e.status !== 404 && e.status !== 410) seen.problem = e;
  }
  return seen;
}

function usable(s) {
  return s.status === "active" && (s.consent_status ?? "granted") === "granted" && s.value !== null && s.value !== undefined;
}

/** Shows what is shared and waiting; with `keepInputs`, only the marks and the summary (the visitor is editing). */
function fill({ keepInputs = false } = {}) {
  for (const label of form.querySelectorAll(".choice .shared")) label.remove();
  if (!keepInputs) {
    edited = false;
    baseline = [...current, ...waiting];
    for (const input of form.querySelectorAll("input[type=checkbox]")) input.checked = false;
    for (const input of form.querySelectorAll('input[type=radio][value=""]')) input.checked = true;
    form.querySelector("#language").value = "";
  }
  const show = (s, text, cls) => {
    if (s.signal_type === "language") {
      if (!keepInputs) form.elements.language.value = s.value;
      return;
    }
    const input = form.querySelector(`input[name="${s.signal_type}"][value="${CSS.escape(s.value)}"]`);
    if (!input) return;
    if (!keepInputs) input.checked = true;
    const mark = document.createElement("span");
    mark.className = cls;
    mark.textContent = ` ${text}`; // the space inside: removed with the mark
    input.parentElement.append(mark);
  };
  for (const s of current) show(s, "(shared)", "shared");
  // Later in the queue means chosen later: it wins over what the ledger holds.
  for (const s of waiting) show(s, "(waiting to be sent)", "shared waiting");
  for (const p of keepInputs ? [] : EXTRA_INTEREST_PURPOSES) {
    const input = form.querySelector(`input[name="interest_purpose"][value="${p}"]`);
    input.checked = !input.disabled && current.some((s) => s.signal_type === "interest" && (s.purposes || []).includes(p));
  }
  // The list above the form: what is shared, for what.
  const notes = [];
  if (unread) notes.push("You are offline, so we cannot show what you shared before. Choices you save now stay on this device and are sent when you are back online.");
  if (waiting.length) notes.push(`Waiting on this device to be sent: ${waiting.map(signalLabel).join(", ")}.`);
  if (current.length === 0) {
    summary.textContent = notes.length ? notes.join(" ") : "Nothing yet. The shop is the same for everyone until you choose.";
    return;
  }
  const groups = new Map();
  for (const s of current) {
    const key = (s.purposes || []).slice().sort().join(" ");
    if (!groups.has(key)) groups.set(key, { purposes: s.purposes || [], items: [] });
    groups.get(key).items.push(signalLabel(s));
  }
  const ul = document.createElement("ul");
  ul.id = "shared-list";
  for (const { purposes, items } of groups.values()) {
    const li = document.createElement("li");
    li.textContent = `${items.join(", ")} (used for ${purposeList(purposes)})`;
    ul.append(li);
  }
  summary.replaceChildren(document.createTextNode(`You are sharing ${current.length} choice${current.length === 1 ? "" : "s"} with us:`), ul,
    ...notes.map((text) => Object.assign(document.createElement("p"), { textContent: text })));
}

/** What the form asks for now: [{signal_type, value, purposes}]. */
function wanted() {
  const data = new FormData(form);
  const out = [];
  const extra = data.getAll("interest_purpose").filter((p) => !(sg.gpc && p === "targeted_advertising"));
  for (const [cls, { many, purposes }] of Object.entries(CLASSES)) {
    const ps = [...new Set([...purposes, ...(cls === "interest" ? extra : [])])].sort();
    const values = many ? data.getAll(cls) : [data.get(cls)].filter(Boolean);
    for (const value of values) out.push({ signal_type: cls, value, purposes: ps });
  }
  return out;
}

const samePurposes = (a = [], b = []) => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (busy || !sg) return;
  // Only what the visitor changed in the form is sent, against what the
  // form was filled from: choices another tab saved in the meantime (shown
  // as shared, left unticked while the visitor was editing) stay as they are.
  const want = wanted();
  const same = (w) => (s) => s.signal_type === w.signal_type && s.value === w.value && samePurposes(s.purposes, w.purposes);
  const sameValue = (a) => (b) => a.signal_type === b.signal_type && a.value === b.value;
  // New choices, or choices given for another set of purposes. One already
  // shared or still waiting on this device is not sent a second time.
  const captures = want.filter((w) => !baseline.some(same(w)) && !current.some(same(w)) && !waiting.some(same(w)));
  // Choices taken back. A one-valued class given a new value is replaced by
  // the capture (the ledger keeps one current value), never deleted.
  const untick = baseline.filter((b) => !want.some(sameValue(b)));
  const deletions = current.filter((s) => untick.some(sameValue(s))
    && (CLASSES[s.signal_type].many || !want.some((w) => w.signal_type === s.signal_type)));
  if (captures.length === 0 && deletions.length === 0) {
    setStatus(status, want.length ? "Nothing to save: these are already your choices." : "Nothing was shared. That is fine: the shop works the same for everyone.", "ok");
    return;
  }
  busy = true;
  form.setAttribute("aria-busy", "true");
  setStatus(status, "Saving…");
  let queued = 0;
  const failed = [];
  for (const w of captures) {
    try {
      const reply = await sg.capture({
        signal_type: w.signal_type, value: w.value, purposes: w.purposes,
        consent_reference: `consent.${w.purposes.join(".")}`,
        source_context: { channel: "web", ui: "preference-centre", page: location.pathname },
      });
      if (reply?.queued) { queued++; awaiting.add(reply.id); }
    } catch (e) {
      failed.push(`${signalLabel(w)} (${problemText(e)})`);
    }
  }
  for (const s of deletions) {
    try { await sg.deleteSignal(s.signal_id); } catch (e) { failed.push(`removing ${signalLabel(s)} (${problemText(e)})`); }
  }
  if (!queued && !failed.length) await withdrawUnused();
  // The form shows the outcome before the status line announces it.
  await load({ refill: true });
  busy = false;
  form.removeAttribute("aria-busy");
  if (failed.length) {
    setStatus(status, `Some choices were not saved: ${failed.join("; ")}.`, "error");
  } else if (queued) {
    setStatus(status, navigator.onLine === false
      ? "Saved on this device; will be sent when you are back online."
      : "Saved on this device; will be sent as soon as our preference service answers.", "queued");
  } else {
    setStatus(status, "Saved. The shop now uses your choices as described above each one.", "ok");
  }
});

/** Withdraws agreements that no shared choice uses any more (e.g. partner ads, once unticked). */
async function withdrawUnused() {
  let data;
  try { data = await sg.signals(); } catch { return; }
  const inUse = new Set((data.signals || []).filter(usable).map((s) => s.consent_id));
  for (const c of data.consents || []) {
    if (c.status === "granted" && !inUse.has(c.consent_id)) {
      try { await sg.revoke(c.consent_id); } catch { /* shown on the privacy page */ }
    }
  }
}

document.getElementById("decline").addEventListener("click", () => {
  if (!sg) { form.reset(); } else { fill(); }
  const text = current.length
    ? "No thanks: nothing new was shared. What you shared before stays until you change or withdraw it."
    : "No thanks: nothing was shared. The shop works the same for everyone.";
  setStatus(status, text, "ok");
});
