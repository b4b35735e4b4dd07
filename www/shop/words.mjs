// Plain words for what the policy names: classes, values, purposes, and the
// reasons the gate gives for using or withholding a signal. Page code shows
// these to visitors; the codes themselves stay in logs and audit.

export const CLASS = {
  interest: "Interest",
  language: "Language",
  price_band: "Price range",
  contact_channel: "Contact channel",
  contact_frequency: "How often we contact you",
  sms_quiet_hours: "Quiet hours for text messages",
  health_goal: "Health goal",
};

export const VALUE = {
  interest: {
    "trail-running": "Trail running", "road-running": "Road running", hiking: "Hiking", camping: "Camping",
    climbing: "Climbing", cycling: "Cycling", yoga: "Yoga",
  },
  language: { en: "English", de: "Deutsch", fr: "Français", es: "Español", it: "Italiano", nl: "Nederlands" },
  price_band: { budget: "Good value", mid: "Mid-range", premium: "Premium" },
  contact_channel: { email: "Email", sms: "Text message (SMS)", push: "App notifications", none: "No contact" },
  contact_frequency: { weekly: "At most weekly", fortnightly: "At most every two weeks", monthly: "At most monthly" },
  sms_quiet_hours: { "after-20h": "No SMS after 8 pm", "after-22h": "No SMS after 10 pm", weekends: "No SMS at weekends" },
};

export const PURPOSE = {
  personalization: "choosing which products we show you",
  marketing_email: "our offers and news",
  support_routing: "answering your support requests",
  targeted_advertising: "ads on partner sites",
};

/** Interests first, then the other choices in the preference centre's order. */
const CLASS_ORDER = ["interest", "language", "price_band", "contact_channel", "contact_frequency", "sms_quiet_hours"];
export function classRank(cls) {
  const i = CLASS_ORDER.indexOf(cls);
  return i < 0 ? CLASS_ORDER.length : i;
}

/** "Trail running", "Deutsch", ... or the raw value when the shop has no word for it. */
export function valueLabel(cls, value) {
  if (value === null || value === undefined) return `${CLASS[cls] || cls} (erased)`;
  return VALUE[cls]?.[value] || value;
}

/** What a visitor would call a shared signal: "Trail running", "Language: Deutsch". */
export function signalLabel(s) {
  const cls = s.signal_type ?? s.class ?? s.cls;
  const value = valueLabel(cls, s.value ?? s.val);
  return cls === "interest" ? value : `${CLASS[cls] || cls}: ${value}`;
}

export const purposeList = (purposes = []) => listJoin(purposes.map((p) => PURPOSE[p] || p));

export function listJoin(items) {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

/** Why a signal was not used, in plain words (the gate's withholding codes). */
export const WITHHELD = {
  gpc_opt_out: "your browser sends Global Privacy Control, which opts you out of this",
  purpose_not_consented: "you did not agree to this use",
  purpose_not_allowed: "our policy never uses this kind of choice for this",
  consent_revoked: "you withdrew your consent",
  consent_not_granted: "you did not give consent",
  expired: "it is too old: you shared it a long time ago and did not confirm it since",
  soft_expired_not_reconfirmed: "it needs confirming: please tell us it is still true",
  superseded: "you told us something newer that replaces it",
  channel_not_allowed: "it is not meant for this website (only for messages)",
  other_scope: "you shared it for another of our services",
  legal_basis_not_allowed: "the basis you gave it on does not cover this",
  value_not_in_vocabulary: "we no longer offer this choice",
  class_not_allowed_in_bundle: "it is sensitive, so it never leaves our preference service",
  unknown_class: "we no longer use this kind of choice",
};

export const withheldText = (code) => WITHHELD[code] || "our policy does not allow it here";

/** Segment outcomes, for the "not shown" part of the explanation. */
export const SEGMENT = {
  runners: "Running gear",
  "outdoor-fans": "Outdoor gear",
  "premium-runners": "Premium running gear",
  "recent-climbers": "Climbing gear",
  "german-speakers": "Our picks in German",
  "no-indoor-cyclists": "Road cycling gear",
  "ad-audience-runners": "Partner ads about running",
  "email-runners": "Running offers by email",
};

export const OUTCOME = {
  rule_not_satisfied: "your choices do not match it",
  purpose_not_in_context: "this page does not do that",
  identity_confidence_below_threshold: "we are not sure enough these choices are yours",
  below_curated_minimum: "too few of your choices may be used here",
};

/** A Unix time as a date a visitor reads ("12 March 2027"). */
export function day(unix) {
  if (!unix) return "";
  return new Date(unix * 1000).toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric" });
}

export function when(unix) {
  if (!unix) return "";
  return new Date(unix * 1000).toLocaleString("en-GB", { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
}

/** The question the reconfirmation banner asks about a signal. */
export function stillQuestion(cls, value) {
  const v = valueLabel(cls, value);
  switch (cls) {
    case "interest": return `Still into ${v.toLowerCase()}?`;
    case "language": return `Still prefer ${v}?`;
    case "price_band": return `Still looking for ${v.toLowerCase()} gear?`;
    case "contact_channel": return `Still happy to hear from us by ${v.toLowerCase()}?`;
    case "contact_frequency": return `Still want offers ${v.toLowerCase()}?`;
    case "sms_quiet_hours": return `Still want “${v}”?`;
    default: return `Is “${v}” still right?`;
  }
}
