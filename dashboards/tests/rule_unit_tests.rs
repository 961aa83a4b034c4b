//! `heapster-rules.test.yml` shows every alert of `heapster-rules.yml` both firing and not firing,
//! so a new alert without unit tests fails here (promtool itself runs the tests, in `.ci/run`).

use std::collections::BTreeMap;

use heapster_dashboards::{Origin, RULES_YAML, rules};
use yaml_rust2::YamlLoader;

const RULE_TESTS_YAML: &str = include_str!("../heapster-rules.test.yml");

#[test]
fn every_alert_is_tested_firing_and_not_firing() {
    let docs = YamlLoader::load_from_str(RULE_TESTS_YAML).expect("the rule tests are YAML");
    let doc = &docs[0];
    assert_eq!(
        doc["rule_files"][0].as_str(),
        Some("heapster-rules.yml"),
        "the tests load the rules file beside them"
    );
    // Per alert: (cases where it must not fire, cases where it must fire).
    let mut cases: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for test in doc["tests"].as_vec().expect("a tests list") {
        for case in test["alert_rule_test"].as_vec().into_iter().flatten() {
            let name = case["alertname"].as_str().expect("alertname").to_owned();
            let firing = case["exp_alerts"].as_vec().is_some_and(|a| !a.is_empty());
            let entry = cases.entry(name).or_default();
            if firing {
                entry.1 += 1;
            } else {
                entry.0 += 1;
            }
        }
    }
    let alerts: Vec<String> = rules(RULES_YAML)
        .unwrap()
        .into_iter()
        .filter_map(|r| match r.query.origin {
            Origin::Alert { name } => Some(name),
            _ => None,
        })
        .collect();
    assert!(!alerts.is_empty());
    for alert in &alerts {
        let (quiet, firing) = cases.get(alert).copied().unwrap_or_default();
        assert!(
            quiet > 0 && firing > 0,
            "{alert}: {firing} firing and {quiet} quiet test cases; write both in heapster-rules.test.yml"
        );
    }
    for tested in cases.keys() {
        assert!(
            alerts.contains(tested),
            "{tested} is tested but not in the rules file"
        );
    }
}
