//! Phase 4 of an evaluation: for each context purpose, the facts rules are
//! evaluated against: the latest confirmation among usable signals by class,
//! value and category, and which classes have a signal withheld for it.

use crate::model::policy::Policy;
use crate::model::policy::{Facts, Target};
use crate::time::UnixTime;

use super::super::decision::Withheld;
use super::refill;
use super::signals::Base;

/// For one purpose: the latest confirmation among usable signals, by class,
/// value and category, and the classes with a withheld signal.
pub(super) struct PurposeFacts<'s> {
    classes: &'s [Option<UnixTime>],
    values: &'s [Option<UnixTime>],
    categories: &'s [Option<UnixTime>],
    /// By class: a signal of the class was withheld for this purpose.
    withheld: &'s [bool],
    confidence: f64,
    now: UnixTime,
}

impl Facts for PurposeFacts<'_> {
    fn latest(&self, class: usize, target: Target) -> Option<UnixTime> {
        match target {
            Target::Any => self.classes.get(class).copied().flatten(),
            Target::Value(v) => self.values.get(v).copied().flatten(),
            Target::Category(c) => self.categories.get(c).copied().flatten(),
        }
    }
    fn withheld(&self, class: usize) -> bool {
        self.withheld.get(class).copied().unwrap_or(false)
    }
    fn confidence(&self) -> f64 {
        self.confidence
    }
    fn now(&self) -> UnixTime {
        self.now
    }
}

fn bump(slot: &mut Option<UnixTime>, t: UnixTime) {
    *slot = Some(slot.map_or(t, |old| old.max(t)));
}

/// The facts of every context purpose, in two flat tables: `latest` holds,
/// per purpose, one stride of classes, then values, then categories;
/// `withheld` holds, per purpose, one flag per class.
pub(super) struct FactTable<'s> {
    latest: &'s [Option<UnixTime>],
    withheld: &'s [bool],
    n_classes: usize,
    n_values: usize,
    stride: usize,
    confidence: f64,
    now: UnixTime,
}

impl<'s> FactTable<'s> {
    /// Indexes the usable signals of each purpose in `purposes` (`used_mask`
    /// bit `p` set: usable for purpose `p`). A signal withheld for a purpose
    /// marks its class for that purpose, unless it only lost the
    /// single-valued merge (a newer value of its class is known).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn build(
        policy: &Policy,
        purposes: &[usize],
        base: &[Base],
        class_of: &[Option<usize>],
        used_mask: &[u64],
        (latest, withheld): (&'s mut Vec<Option<UnixTime>>, &'s mut Vec<bool>),
        confidence: f64,
        now: UnixTime,
    ) -> FactTable<'s> {
        let n_classes = policy.classes.len();
        let values_at = n_classes;
        let categories_at = values_at + policy.value_count;
        let stride = categories_at + policy.category_count;
        let latest = refill(latest, stride * purposes.len(), None);
        let withheld = refill(withheld, n_classes * purposes.len(), false);
        for (k, &p) in purposes.iter().enumerate() {
            let slots = &mut latest[k * stride..(k + 1) * stride];
            let withheld_here = &mut withheld[k * n_classes..(k + 1) * n_classes];
            for ((b, mask), class_index) in base.iter().zip(used_mask.iter()).zip(class_of.iter()) {
                match (b, mask & (1u64 << p) != 0) {
                    (Ok(c), true) => {
                        let class = &policy.classes[c.class];
                        bump(&mut slots[c.class], c.confirmed_at);
                        bump(&mut slots[values_at + class.value_base + c.value], c.confirmed_at);
                        let category = categories_at + class.category_base + class.value_category[c.value];
                        bump(&mut slots[category], c.confirmed_at);
                    }
                    (Err(Withheld::Superseded), _) => {}
                    _ => {
                        if let Some(slot) = class_index.and_then(|ci| withheld_here.get_mut(ci)) {
                            *slot = true;
                        }
                    }
                }
            }
        }
        FactTable { latest, withheld, n_classes, n_values: policy.value_count, stride, confidence, now }
    }

    /// The facts of the `k`-th context purpose.
    pub(super) fn purpose(&self, k: usize) -> PurposeFacts<'_> {
        let (classes, rest) = self.latest[k * self.stride..(k + 1) * self.stride].split_at(self.n_classes);
        let (values, categories) = rest.split_at(self.n_values);
        let withheld = &self.withheld[k * self.n_classes..(k + 1) * self.n_classes];
        PurposeFacts { classes, values, categories, withheld, confidence: self.confidence, now: self.now }
    }
}
