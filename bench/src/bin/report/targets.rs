//! The time targets of issue 10, checked on the timed run's medians.

use std::collections::BTreeMap;

use heapster_bench::SCENARIOS;

use crate::config::{BASELINE, OURS, OURS_OWNED, Options};
use crate::summary::{Samples, has_ratio, human_ns, med};

/// Prints each target with its figure and whether it was met, for the shared and the
/// thread-owned mode.
pub(crate) fn print(o: &Options, samples: &BTreeMap<&'static str, Samples>) {
    for ours in [OURS, OURS_OWNED] {
        let Some(c) = o.configs.iter().find(|c| c.bin == ours) else {
            continue;
        };
        println!("Targets (issue 10) for {}:", c.label);
        for line in lines(o, samples, ours) {
            println!("{line}");
        }
        println!();
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**not met**" }
}

fn lines(o: &Options, samples: &BTreeMap<&'static str, Samples>, ours: &str) -> Vec<String> {
    let ratio = |config: &str, s: &str| Some(med(samples, config, s)? / med(samples, BASELINE, s)?);
    let peers: Vec<_> = o.configs.iter().filter(|c| c.peer).collect();
    let mut lines = Vec::new();
    // The cheapest of cap, heapster 0.9 default and peak_alloc per 16 B pair.
    let cheapest = peers
        .iter()
        .filter(|c| matches!(c.bin, "cap" | "heapster09-default" | "peak-alloc"))
        .filter_map(|c| Some((med(samples, c.bin, "pair_16")?, c.label)))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    if let (Some(mine), Some((theirs, who))) = (med(samples, ours, "pair_16"), cheapest) {
        lines.push(format!(
            "- 16 B pair {} vs {} ({who}, the cheapest of cap, heapster 0.9 default and \
             peak_alloc): {}",
            human_ns(mine),
            human_ns(theirs),
            verdict(mine <= theirs)
        ));
    }
    // 2-thread churn cheaper than every peer.
    let best_churn = peers
        .iter()
        .filter_map(|c| Some((med(samples, c.bin, "churn_2t")?, c.label)))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    if let (Some(mine), Some((theirs, who))) = (med(samples, ours, "churn_2t"), best_churn) {
        lines.push(format!(
            "- 2-thread churn {} vs {} ({who}, the cheapest peer): {}",
            human_ns(mine),
            human_ns(theirs),
            verdict(mine < theirs)
        ));
    }
    // The workload within 3 points of the best peer.
    let best_e2e = peers
        .iter()
        .filter_map(|c| Some((ratio(c.bin, "end_to_end")?, c.label)))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    if let (Some(mine), Some((theirs, who))) = (ratio(ours, "end_to_end"), best_e2e) {
        lines.push(format!(
            "- end to end {mine:.3}× vs {theirs:.3}× ({who}, the best peer), {:+.1} points \
             (target ≤ +3): {}",
            (mine - theirs) * 100.0,
            verdict(mine - theirs <= 0.03)
        ));
    }
    if let Some(r) = ratio(ours, "pair_16") {
        lines.push(format!(
            "- stretch: 16 B pair {r:.2}× bare System (target ≤ 1.10×): {}",
            verdict(r <= 1.10)
        ));
    }
    let mut behind = Vec::new();
    for s in SCENARIOS.iter().filter(|s| has_ratio(s)) {
        let Some(mine) = med(samples, ours, s.name) else {
            continue;
        };
        for c in &peers {
            if let Some(theirs) = med(samples, c.bin, s.name).filter(|t| *t < mine) {
                behind.push(format!(
                    "{} ({} vs {} of {})",
                    s.name,
                    human_ns(mine),
                    human_ns(theirs),
                    c.label
                ));
            }
        }
    }
    lines.push(if behind.is_empty() {
        "- (for reference) faster than every peer on every scenario".to_owned()
    } else {
        format!("- (for reference) behind a peer: {}", behind.join("; "))
    });
    lines
}
