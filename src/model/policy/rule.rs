//! Segment rules: `all` / `any` / `not` over predicates on signals and the
//! identity confidence. No loops, no regex: evaluation visits each node once.
//!
//! In JSON:
//! `{"all":[{"signal":{"class":"interest","value":"running"}},{"not":{"signal":{"class":"interest","category":"indoor"}}}]}`,
//! `{"any":[...]}`, `{"signal":{"class":"language","within":"30d"}}` (confirmed in the
//! last 30 days), `{"confidence":0.8}` (identity confidence at least 0.8).

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
    All(Vec<Rule>),
    Any(Vec<Rule>),
    Not(Box<Rule>),
    /// A usable signal of `class` matching `target`, confirmed within `within` if given.
    Signal {
        class: usize,
        target: Target,
        within: Option<Span>,
    },
    /// Identity-resolution confidence at least this.
    Confidence(f64),
}

/// What a rule is evaluated against: for each class, value and category, the
/// latest confirmation time among the usable signals for one purpose.
pub trait Facts {
    fn latest(&self, class: usize, target: Target) -> Option<UnixTime>;
    fn confidence(&self) -> f64;
    fn now(&self) -> UnixTime;
}

impl Rule {
    /// Evaluates the rule. Work is one step per node.
    pub fn holds(&self, facts: &impl Facts) -> bool {
        match self {
            Rule::All(rules) => rules.iter().all(|r| r.holds(facts)),
            Rule::Any(rules) => rules.iter().any(|r| r.holds(facts)),
            Rule::Not(rule) => !rule.holds(facts),
            Rule::Signal { class, target, within } => match facts.latest(*class, *target) {
                Some(t) => within.is_none_or(|w| facts.now().before(w) <= t),
                None => false,
            },
            Rule::Confidence(min) => facts.confidence() >= *min,
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
    fn confidence(&self) -> f64 {
        self.0
    }
    fn now(&self) -> UnixTime {
        UnixTime(0)
    }
}
