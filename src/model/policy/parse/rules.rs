//! The rule language inside a segment: `all`, `any`, `not`, `signal` and
//! `confidence`, bounded in depth and nodes.

use serde_json::Value;

use super::walker::{join, Walker};
use crate::codec::fnv::NameMap;
use crate::model::policy::rule::{Rule, Target, MAX_RULE_DEPTH, MAX_RULE_NODES};
use crate::model::policy::Class;

pub(super) struct RuleParser<'a> {
    pub(super) w: &'a mut Walker,
    pub(super) classes: &'a [Class],
    pub(super) class_index: &'a NameMap<usize>,
    pub(super) nodes: usize,
}

impl RuleParser<'_> {
    pub(super) fn rule(&mut self, v: &Value, path: &str, depth: usize) -> Option<Rule> {
        self.nodes += 1;
        if self.nodes > MAX_RULE_NODES {
            self.w.problem(path, format!("rule has more than {MAX_RULE_NODES} nodes"));
            return None;
        }
        if depth > MAX_RULE_DEPTH {
            self.w.problem(path, format!("rule is nested deeper than {MAX_RULE_DEPTH} levels"));
            return None;
        }
        let m = self.w.object(v, path)?;
        let mut entries = m.iter();
        let (Some((op, arg)), None) = (entries.next(), entries.next()) else {
            self.w.problem(path, "a rule is an object with exactly one of `all`, `any`, `not`, `signal`, `confidence`");
            return None;
        };
        let p = join(path, op);
        match op.as_str() {
            "all" | "any" => {
                let items = self.w.list(arg, &p, MAX_RULE_NODES);
                if items.is_empty() {
                    self.w.problem(&p, "needs at least one rule");
                    return None;
                }
                let mut rules = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    rules.push(self.rule(item, &format!("{p}[{i}]"), depth + 1));
                }
                let rules: Option<Vec<Rule>> = rules.into_iter().collect();
                Some(if op == "all" { Rule::All(rules?) } else { Rule::Any(rules?) })
            }
            "not" => Some(Rule::Not(Box::new(self.rule(arg, &p, depth + 1)?))),
            "confidence" => Some(Rule::Confidence(self.w.fraction(arg, &p)?)),
            "signal" => self.signal(arg, &p),
            _ => {
                self.w.problem(&p, "unknown rule; expected `all`, `any`, `not`, `signal` or `confidence`");
                None
            }
        }
    }

    fn signal(&mut self, v: &Value, path: &str) -> Option<Rule> {
        let m = self.w.object(v, path)?;
        self.w.only(m, path, &["class", "value", "category", "within"]);
        let class_name = self.w.required(m, path, "class").and_then(|c| self.w.string(c, &join(path, "class")))?;
        let Some(&ci) = self.class_index.get(class_name) else {
            self.w.problem(&join(path, "class"), format!("unknown class {class_name:?}"));
            return None;
        };
        let class = &self.classes[ci];
        let target = match (m.get("value"), m.get("category")) {
            (None, None) => Target::Any,
            (Some(v), None) => {
                let vp = join(path, "value");
                let s = self.w.string(v, &vp)?;
                let Some(i) = class.value_index(s) else {
                    self.w.problem(&vp, format!("{s:?} is not in the vocabulary of class `{class_name}`"));
                    return None;
                };
                Target::Value(class.value_base + i)
            }
            (None, Some(c)) => {
                let cp = join(path, "category");
                let s = self.w.string(c, &cp)?;
                let Some(i) = class.categories.iter().position(|x| x == s) else {
                    self.w.problem(&cp, format!("{s:?} is not a category of class `{class_name}`"));
                    return None;
                };
                Target::Category(class.category_base + i)
            }
            (Some(_), Some(_)) => {
                self.w.problem(path, "give `value` or `category`, not both");
                return None;
            }
        };
        let within = match m.get("within") {
            Some(v) => Some(self.w.span(v, &join(path, "within"))?),
            None => None,
        };
        Some(Rule::Signal { class: ci, target, within })
    }
}
