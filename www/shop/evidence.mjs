// The visitor's evidence pack (`evidence("json")`), shown for people: the
// record's check, what was shared, the agreements, each use, each erasure
// and the full history. The buttons above download the same pack as JSON,
// as the signed JWS, or open the origin's printable HTML page.
import { connect, mountReconfirm, setStatus, problemText, ready } from "./site.mjs";
import { CLASS, valueLabel, purposeList, when, day } from "./words.mjs";

const status = document.getElementById("evidence-status");
const root = document.getElementById("evidence");
const downloads = document.querySelector(".section .actions");

const OP = {
  consent_granted: "You agreed to a use",
  signal_captured: "You shared a choice",
  signal_reconfirmed: "You confirmed a choice",
  consent_revoked: "An agreement was withdrawn",
  signal_expired: "A choice expired",
  bundle_issued: "Your choices were sent to the shop, signed",
  merged_into: "Your record was joined to another of yours",
  merge_imported: "Choices came over from another record of yours",
  merge_split: "A joined record was split back",
  split_restored: "Choices came back after a split",
  subject_deleted: "Your record was deleted",
  subject_restored: "Your record was restored",
  signal_deleted: "A choice was removed",
  values_erased: "Values were erased",
  retention_locked: "A legal hold was placed",
  retention_unlocked: "A legal hold was lifted",
  intake_received: "A free-text answer arrived",
  intake_resolved: "A free-text answer was mapped",
  intake_purged: "A free-text answer was deleted",
};
const REASON = { subject_request: "you asked us to forget you", retention_end: "its keeping time ended", signal_deleted: "you removed the choice" };
const ACTOR = { subject: "you", service: "our systems", operator: "our staff", system: "automatically" };

const sg = await connect();
if (!sg) {
  setStatus(status, "Our preference service is not reachable right now, so we cannot show your evidence pack.", "error");
} else {
  await mountReconfirm(sg);
  try {
    let pack = await sg.evidence("json");
    if (typeof pack === "string") pack = JSON.parse(pack);
    render(pack);
    setStatus(status, `Your evidence pack, made ${when(pack.generated_at)}.`, "ok");
  } catch (e) {
    if ([401, 404, 410].includes(e?.status)) {
      downloads.hidden = true;
      setStatus(status, "We hold nothing about you: you have not shared anything with us from this browser.", "ok");
    } else {
      setStatus(status, `We could not fetch your evidence pack: ${problemText(e)}.`, "error");
    }
  }
}
ready();

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  e.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return e;
}

function table(caption, head, rows, id) {
  if (rows.length === 0) return el("p", {}, `${caption}: none.`);
  return el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": `${id}-cap` },
    el("table", {},
      el("caption", { id: `${id}-cap` }, caption),
      el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c, i) => (i === 0 ? el("th", { scope: "row" }, c) : el("td", {}, c))))))));
}

function render(pack) {
  const byConsent = new Map((pack.consents || []).map((c) => [c.consent_id, c]));
  const bySignal = new Map();
  for (const s of pack.collected || []) bySignal.set(s.signal_id, s);
  const signalName = (id) => {
    const s = bySignal.get(id);
    if (!s) return id;
    return s.value === null || s.value === undefined ? `${CLASS[s.signal_type] || s.signal_type} (erased)` : valueLabel(s.signal_type, s.value);
  };
  const chain = pack.chain || {};
  const facts = el("dl", { class: "facts" },
    el("div", { class: "fact" }, el("dt", {}, "Record check"),
      el("dd", {}, chain.verified ? el("span", { class: "ok-mark" }, `Intact: all ${chain.events} entries chain together`) : `Broken at entry ${chain.first_bad_index}: ${chain.problem}`)),
    el("div", { class: "fact" }, el("dt", {}, "Made"), el("dd", {}, when(pack.generated_at))),
    el("div", { class: "fact" }, el("dt", {}, "Signed by"), el("dd", {}, pack.issuer)),
    el("div", { class: "fact" }, el("dt", {}, "Your reference"), el("dd", { class: "mono" }, pack.subject_id)),
    el("div", { class: "fact" }, el("dt", {}, "Rules in force"), el("dd", {}, (pack.policy_versions || []).join(", "))),
    el("div", { class: "fact" }, el("dt", {}, "Legal hold"), el("dd", {}, pack.retention_lock ? `Yes, until ${day(pack.retention_lock.until)}` : "None")),
  );

  const collected = table("What you shared", ["Choice", "Kind", "Shared", "For", "Status", "Kept until"],
    (pack.collected || []).map((s) => [
      s.value === null || s.value === undefined ? "(erased)" : valueLabel(s.signal_type, s.value),
      CLASS[s.signal_type] || s.signal_type,
      when(s.captured_at) + (s.reconfirmed_at ? ` (confirmed ${day(s.reconfirmed_at)})` : ""),
      purposeList(byConsent.get(s.consent_id)?.purposes || []),
      s.erased_at ? `erased ${day(s.erased_at)}` : s.retired_at ? `no longer used since ${day(s.retired_at)}` : s.consent_status === "granted" ? s.status : `${s.status}, consent ${s.consent_status}`,
      day(s.retention_until),
    ]), "collected");

  const consents = table("Your agreements", ["Use", "Agreed", "Withdrawn", "Basis"],
    (pack.consents || []).map((c) => [purposeList(c.purposes || []), when(c.granted_at), c.revoked_at ? when(c.revoked_at) : "no", c.legal_basis]), "consents");

  const uses = table("When your choices were used", ["Sent", "Choices", "Valid until", "Rules"],
    (pack.uses || []).map((u) => [when(u.issued_at), (u.signals || []).map(([id]) => signalName(id)).join(", ") || "none", when(u.expires_at), u.policy_version]), "uses");

  const erasures = (pack.erasures || []).length
    ? table("Erasures (the proof that values were removed)", ["When", "Why", "Values erased"],
      pack.erasures.map((x) => [when(x.at), REASON[x.reason] || x.reason, String((x.signals || []).length)]), "erasures")
    : el("p", {}, "Nothing has been erased.");

  const history = table("Full history (each entry is sealed with the one before it)", ["#", "When", "What", "By", "Seal"],
    (pack.events || []).map((e) => [String(e.seq), when(e.at), OP[e.op] || e.op, ACTOR[e.actor_type] || e.actor_type, el("span", { class: "mono", title: e.hash }, `${e.hash.slice(0, 12)}…`)]), "history");

  root.replaceChildren(
    el("section", { class: "panel", "aria-labelledby": "ev-summary" }, el("h2", { id: "ev-summary" }, "Summary"), facts),
    el("section", { class: "panel", "aria-labelledby": "ev-shared" }, el("h2", { id: "ev-shared" }, "What you shared and agreed to"), collected, consents),
    el("section", { class: "panel", "aria-labelledby": "ev-uses" }, el("h2", { id: "ev-uses" }, "How your choices were used"), uses, erasures),
    el("section", { class: "panel", "aria-labelledby": "ev-history" }, el("h2", { id: "ev-history" }, "The record"), history),
  );
}
