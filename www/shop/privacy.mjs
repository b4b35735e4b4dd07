// "Your privacy choices": what is shared and agreed to, each removable on
// its own, and the two big buttons, each behind a confirmation step:
// withdraw every consent (revokeAll) and forget me (erase).
import { connect, mountReconfirm, setStatus, problemText, ready, dropOfflineCopy } from "./site.mjs";
import { signalLabel, purposeList, day, classRank } from "./words.mjs";

const status = document.getElementById("privacy-status");
const sharedList = document.getElementById("shared-list");
const consentList = document.getElementById("consent-list");
let renders = 0; // renders started so far (see render)
let lastRender = Promise.resolve();

const sg = await connect();
if (!sg) {
  setStatus(status, "Our preference service is not reachable right now, so we cannot show or change what you shared.", "error");
  for (const b of document.querySelectorAll("button")) b.disabled = true;
} else {
  document.getElementById("gpc-status").hidden = !sg.gpc;
  await render();
  sg.on?.("change", () => render());
  await mountReconfirm(sg, { onDone: async (text) => { document.getElementById("reconfirm").hidden = true; await render(); setStatus(status, text, "ok"); status.focus(); } });
}
ready();

// Renders can overlap (changes from other tabs): only the last one started
// is shown, and an earlier caller waits for it.
function render() {
  lastRender = draw(++renders);
  return drawn();
}
function drawn() {
  const n = renders;
  return lastRender.then(() => (n === renders ? undefined : drawn()));
}

async function draw(n) {
  let signals = [], consents = [];
  try {
    ({ signals = [], consents = [] } = await sg.signals());
  } catch (e) {
    if (n === renders && e?.status && ![401, 404, 410].includes(e.status)) setStatus(status, `We could not read what you shared: ${problemText(e)}.`, "error");
  }
  if (n !== renders) return;
  const shared = signals.filter((s) => s.status === "active" && s.value !== null && s.value !== undefined && (s.consent_status ?? "granted") === "granted")
    .sort((a, b) => classRank(a.signal_type) - classRank(b.signal_type) || signalLabel(a).localeCompare(signalLabel(b)));
  const granted = consents.filter((c) => c.status === "granted");

  sharedList.replaceChildren(...shared.map((s) => {
    const li = document.createElement("li");
    const text = document.createElement("span");
    const name = document.createElement("strong");
    name.textContent = signalLabel(s);
    const meta = document.createElement("span");
    meta.className = "meta";
    const until = s.freshness?.usable_until ?? s.expires_at;
    meta.textContent = `For ${purposeList(s.purposes || [])}. Shared on ${day(s.reconfirmed_at || s.captured_at)}${until ? `; used until ${day(until)} unless you confirm it` : ""}.`;
    text.append(name, meta);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "btn small secondary";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove ${signalLabel(s)}`);
    remove.addEventListener("click", () => act(() => sg.deleteSignal(s.signal_id), `Removed ${signalLabel(s)}: we no longer use it.`));
    li.append(text, remove);
    return li;
  }));
  document.getElementById("shared-empty").hidden = shared.length > 0;

  consentList.replaceChildren(...granted.map((c) => {
    const li = document.createElement("li");
    const text = document.createElement("span");
    const name = document.createElement("strong");
    name.textContent = `Use for ${purposeList(c.purposes || [])}`;
    const uses = shared.filter((s) => s.consent_id === c.consent_id).map(signalLabel);
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = `Agreed on ${day(c.granted_at)}${uses.length ? `; covers ${uses.join(", ")}` : ""}.`;
    text.append(name, meta);
    const withdraw = document.createElement("button");
    withdraw.type = "button";
    withdraw.className = "btn small secondary";
    withdraw.textContent = "Withdraw";
    withdraw.setAttribute("aria-label", `Withdraw: use for ${purposeList(c.purposes || [])}`);
    withdraw.addEventListener("click", () => act(() => sg.revoke(c.consent_id), `Withdrawn: we no longer use your choices for ${purposeList(c.purposes || [])}.`));
    li.append(text, withdraw);
    return li;
  }));
  document.getElementById("consents-empty").hidden = granted.length > 0;
  document.getElementById("revoke-all").disabled = granted.length === 0;
}

async function act(call, done) {
  setStatus(status, "Working…");
  let problem = null;
  try { await call(); } catch (e) { problem = e; }
  await render();
  if (problem) setStatus(status, `That did not work: ${problemText(problem)}. Nothing was changed.`, "error");
  else setStatus(status, done, "ok");
}

/** A button that opens a confirmation panel; its "yes" runs `run`, "cancel" closes it. */
function confirmStep(openId, panelId, yesId, noId, run) {
  const open = document.getElementById(openId);
  const panel = document.getElementById(panelId);
  const yes = document.getElementById(yesId);
  const close = () => { panel.hidden = true; open.setAttribute("aria-expanded", "false"); };
  open.addEventListener("click", () => {
    for (const other of document.querySelectorAll(".confirm")) if (other !== panel) other.hidden = true;
    for (const b of document.querySelectorAll("[aria-controls]")) if (b !== open) b.setAttribute("aria-expanded", "false");
    panel.hidden = false;
    open.setAttribute("aria-expanded", "true");
    yes.focus();
  });
  document.getElementById(noId).addEventListener("click", () => { close(); open.focus(); setStatus(status, "Cancelled: nothing was changed."); });
  panel.addEventListener("keydown", (e) => { if (e.key === "Escape") { close(); open.focus(); } });
  yes.addEventListener("click", async () => {
    yes.disabled = true;
    await run();
    yes.disabled = false;
    close();
    (open.disabled ? status : open).focus();
  });
}

confirmStep("revoke-all", "confirm-revoke", "revoke-all-yes", "revoke-all-no", () =>
  act(() => sg.revokeAll(), "Done: every consent is withdrawn and we no longer use anything you shared. The shop is the same for everyone again."));

confirmStep("erase", "confirm-erase", "erase-yes", "erase-no", () =>
  act(async () => { await sg.erase(); await dropOfflineCopy(); }, "Done: we erased what you shared, and this browser starts afresh. Contact choices such as quiet hours stay as do-not-contact markers until their retention ends."));
