//! Medians, spreads and number formats of the timed run.

use std::collections::BTreeMap;

use heapster_bench::Scenario;

/// Samples of one configuration: scenario name -> ns/op, one per round.
pub(crate) type Samples = BTreeMap<&'static str, Vec<f64>>;

/// The median, or `None` for no samples.
pub(crate) fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some(f64::midpoint(v[n / 2 - 1], v[n / 2])),
    }
}

/// Interquartile range relative to the median, as a percentage.
pub(crate) fn spread(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n < 4 {
        return None;
    }
    let (q1, q3) = (v[n / 4], v[(3 * n) / 4]);
    median(&v).map(|m| (q3 - q1) / m * 100.0)
}

/// The median of one configuration's samples of one scenario.
pub(crate) fn med(
    samples: &BTreeMap<&'static str, Samples>,
    config: &str,
    scenario: &str,
) -> Option<f64> {
    median(samples.get(config)?.get(scenario)?)
}

/// A duration in ns, in the unit that suits it.
pub(crate) fn human_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e4 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns >= 100.0 {
        format!("{ns:.0} ns")
    } else {
        format!("{ns:.1} ns")
    }
}

/// Whether a ratio against bare `System` means something for this scenario and configuration
/// (a counter read of a configuration without counters does not).
pub(crate) fn has_ratio(s: &Scenario) -> bool {
    s.name != "snapshot"
}
