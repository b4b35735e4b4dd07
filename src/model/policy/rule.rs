//! Segment rules: `all` / `any` / `not` over predicates on signals and the
//! identity confidence. No loops, no regex: evaluation visits each node once.
//!
//! In JSON:
//! `{"all":[{"signal":{"class":"interest","value":"running"}},{"not":{"signal":{"class":"interest","category":"indoor"}}}]}`,
//! `{"any":[...]}`, `{"signal":{"class":"language","within":"30d"}}` (confirmed in the
//! last 30 days), `{"confidence":0.8}` (identity confidence at least 0.8).
//!
//! Rules are three-valued ([`Truth`]): a `signal` predicate that no usable
//! signal satisfies is [`Truth::Unknown`] rather than false when the bundle
//! carries a signal of that class that was withheld for the purpose (expired,
//! revoked, out of scope, ...). `not` leaves unknown unknown, so a withheld
//! signal can never make a negation hold; a segment is emitted only when its
//! rule is [`Truth::True`].

use crate::time::{Span, UnixTime};

/// Deepest nesting of a rule.
pub const MAX_RULE_DEPTH: usize = 8;
/// Most nodes in one rule.
pub const MAX_RULE_NODES: usize = 64;

/// What a signal predicate matches within its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Any value of the class.
    Any,
    /// One value (global value index).
    Value(usize),
    /// One category (global category index).
    Category(usize),
}

/// A compiled rule (class, value and category names resolved to indices).
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// `all`: every child holds (at least one child); the minimum of their truths.
    All(Vec<Rule>),
    /// `any`: some child holds (at least one child); the maximum of their truths.
    Any(Vec<Rule>),
    /// `not`: holds when the child is known not to hold; unknown stays unknown.
    Not(Box<Rule>),
    /// A usable signal of `class` matching `target`, confirmed within `within` if given.
    Signal {
        /// The class: an index into [`Policy::classes`](crate::model::Policy::classes).
        class: usize,
        /// The value or category to match, or any.
        target: Target,
        /// If given, the signal's last confirmation (`max(cap, rcf)`) must be at
        /// or after `now - within`.
        within: Option<Span>,
    },
    /// Identity-resolution confidence at least this.
    Confidence(f64),
}

/// The value of a rule in Kleene's three-valued logic, ordered
/// `False < Unknown < True` so that `all` is the minimum and `any` the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Truth {
    /// Known not to hold.
    False,
    /// Depends on a signal that was withheld: neither it nor its negation holds.
    Unknown,
    /// Holds on usable signals alone.
    True,
}

impl Truth {
    fn not(self) -> Truth {
        match self {
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
            Truth::True => Truth::False,
        }
    }
}

/// What a rule is evaluated against, for one purpose: for each class, value
/// and category, the latest confirmation time among the usable signals, and
/// which classes have a signal that was withheld.
pub trait Facts {
    /// The latest confirmation among usable signals of `class` matching `target`.
    fn latest(&self, class: usize, target: Target) -> Option<UnixTime>;
    /// Whether the bundle carries a signal of `class` withheld for this purpose.
    fn withheld(&self, class: usize) -> bool;
    /// The bundle's identity-resolution confidence.
    fn confidence(&self) -> f64;
    /// The evaluation instant.
    fn now(&self) -> UnixTime;
}

impl Rule {
    /// Whether the rule holds: [`Rule::truth`] is [`Truth::True`].
    pub fn holds(&self, facts: &impl Facts) -> bool {
        self.truth(facts) == Truth::True
    }

    /// Evaluates the rule in three-valued logic. Work is one step per node.
    pub fn truth(&self, facts: &impl Facts) -> Truth {
        match self {
            // Short-circuit on the absorbing value; `min`/`max` otherwise.
            Rule::All(rules) => {
                let mut acc = Truth::True;
                for r in rules {
                    acc = acc.min(r.truth(facts));
                    if acc == Truth::False {
                        break;
                    }
                }
                acc
            }
            Rule::Any(rules) => {
                let mut acc = Truth::False;
                for r in rules {
                    acc = acc.max(r.truth(facts));
                    if acc == Truth::True {
                        break;
                    }
                }
                acc
            }
            Rule::Not(rule) => rule.truth(facts).not(),
            Rule::Signal { class, target, within } => {
                let recent =
                    facts.latest(*class, *target).is_some_and(|t| within.is_none_or(|w| facts.now().before(w) <= t));
                if recent {
                    Truth::True
                } else if facts.withheld(*class) {
                    Truth::Unknown
                } else {
                    Truth::False
                }
            }
            Rule::Confidence(min) => {
                if facts.confidence() >= *min {
                    Truth::True
                } else {
                    Truth::False
                }
            }
        }
    }

    /// Number of nodes.
    pub fn size(&self) -> usize {
        match self {
            Rule::All(rules) | Rule::Any(rules) => 1 + rules.iter().map(Rule::size).sum::<usize>(),
            Rule::Not(rule) => 1 + rule.size(),
            Rule::Signal { .. } | Rule::Confidence(_) => 1,
        }
    }
}

/// Facts with no signals at all and the given identity confidence: a rule
/// that holds here would emit a token for a visitor who volunteered nothing.
pub(crate) struct NoSignals(pub(crate) f64);

impl NoSignals {
    /// Whether `rule` holds without any signal at some identity confidence.
    /// Without signals a rule depends only on the confidence, and only
    /// changes at the thresholds it names, so 0 and each threshold cover
    /// every case.
    pub(crate) fn matches(rule: &Rule) -> bool {
        fn thresholds(rule: &Rule, out: &mut Vec<f64>) {
            match rule {
                Rule::All(rules) | Rule::Any(rules) => rules.iter().for_each(|r| thresholds(r, out)),
                Rule::Not(rule) => thresholds(rule, out),
                Rule::Confidence(min) => out.push(*min),
                Rule::Signal { .. } => {}
            }
        }
        let mut levels = vec![0.0, 1.0];
        thresholds(rule, &mut levels);
        levels.into_iter().any(|c| rule.holds(&NoSignals(c)))
    }
}

impl Facts for NoSignals {
    fn latest(&self, _: usize, _: Target) -> Option<UnixTime> {
        None
    }
    fn withheld(&self, _: usize) -> bool {
        false
    }
    fn confidence(&self) -> f64 {
        self.0
    }
    fn now(&self) -> UnixTime {
        UnixTime(0)
    }
}
