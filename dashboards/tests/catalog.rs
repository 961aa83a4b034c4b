//! The dashboard and the rules agree with heapster-exporter's metric catalog: every metric name
//! they use exists, every metric in the catalog is on some panel, every histogram query works
//! for classic and native histograms, and every panel and alert is documented.

use std::collections::{BTreeMap, BTreeSet};

use heapster_dashboards::{
    DASHBOARD_JSON, Origin, Query, RULES_YAML, Variables, dashboard_panels, dashboard_queries,
    dashboard_variables, metric_names, rules, selectors, variable_query,
};
use heapster_exporter::catalog::{
    DEFAULT_NAMESPACE, Instrument, METRICS, ProcessMemoryNames, Scope,
};
use heapster_exporter::naming::otel_to_prometheus;

/// The Prometheus names of the catalog, with their instrument: a process metric under both
/// names heapster-exporter can give it (namespaced, the default, and the OpenTelemetry
/// translation), so that every panel must read either.
fn catalog() -> BTreeMap<String, Instrument> {
    METRICS
        .iter()
        .flat_map(|m| {
            [
                ProcessMemoryNames::Namespaced,
                ProcessMemoryNames::OpenTelemetry,
            ]
            .map(|names| {
                (
                    m.full_prometheus_name_with(DEFAULT_NAMESPACE, names),
                    m.instrument,
                )
            })
        })
        .collect()
}

/// Grafana's built-in variables, which stand where PromQL needs a duration.
fn builtins() -> Variables {
    Variables::new()
        .with("__rate_interval", "1m")
        .with("__interval", "15s")
        .with("__range", "1h")
}

fn vars() -> Variables {
    builtins()
        .with("datasource", "prometheus")
        .with("job", "api")
        .with("instance", "a:9000")
}

/// The Prometheus name of the per-bucket counter that heapster-exporter's OpenTelemetry
/// instruments register for a histogram with `with_bucket_counters` (`<histogram>.bucket`, unit
/// `{count}`), after an OpenTelemetry collector translated it, by Prometheus name of the histogram.
fn bucket_counters() -> BTreeMap<String, String> {
    METRICS
        .iter()
        .filter(|m| m.instrument == Instrument::Histogram)
        .map(|m| {
            let otel = format!("{}.bucket", m.full_otel_name(DEFAULT_NAMESPACE));
            (
                m.full_prometheus_name(DEFAULT_NAMESPACE),
                otel_to_prometheus(&otel, "{count}", Instrument::Counter),
            )
        })
        .collect()
}

/// The catalog metric that `name` reads: itself, the histogram whose `_bucket`, `_sum` or
/// `_count` series it is, or the histogram whose OpenTelemetry per-bucket counter it is.
fn catalog_metric(name: &str, catalog: &BTreeMap<String, Instrument>) -> Option<String> {
    if catalog.contains_key(name) {
        return Some(name.to_owned());
    }
    if let Some((histogram, _)) = bucket_counters().into_iter().find(|(_, c)| c == name) {
        return Some(histogram);
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = name.strip_suffix(suffix)?;
        (catalog.get(base) == Some(&Instrument::Histogram)).then(|| base.to_owned())
    })
}

/// Every query of the dashboard and of the rules file.
fn all_queries() -> impl Iterator<Item = Query> {
    let rules = rules(RULES_YAML).unwrap().into_iter().map(|r| r.query);
    dashboard_queries(DASHBOARD_JSON)
        .unwrap()
        .into_iter()
        .chain(rules)
}

fn recorded_names() -> BTreeSet<String> {
    rules(RULES_YAML)
        .unwrap()
        .into_iter()
        .filter_map(|r| match r.query.origin {
            Origin::Record { name } => Some(name),
            _ => None,
        })
        .collect()
}

/// Every name used by the dashboard and the rules is a catalog metric (or one of its histogram
/// series) or a name recorded by the rules file.
#[test]
fn every_metric_used_exists() {
    let catalog = catalog();
    let process = METRICS.iter().filter(|m| m.scope == Scope::Process).count();
    assert_eq!(
        catalog.len(),
        METRICS.len() + process,
        "duplicate Prometheus names"
    );
    let recorded = recorded_names();
    let mut checked = 0;
    for query in all_queries() {
        let expr = vars().substitute(&query.expr);
        assert!(
            Variables::unresolved(&expr).is_empty(),
            "{}: unknown variable in {expr}",
            query.origin
        );
        let names = metric_names(&expr).unwrap_or_else(|e| panic!("{}: {e}", query.origin));
        assert!(
            !names.is_empty(),
            "{}: selects no metric: {expr}",
            query.origin
        );
        for name in names {
            let known = if name.contains(':') {
                recorded.contains(&name)
            } else {
                catalog_metric(&name, &catalog).is_some()
            };
            assert!(
                known,
                "{}: {name} is neither in heapster-exporter's catalog nor recorded by the rules",
                query.origin
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} names checked");
}

/// Every metric of the catalog appears on some panel of the dashboard.
#[test]
fn every_catalog_metric_is_on_a_panel() {
    let catalog = catalog();
    let mut on_panels = BTreeSet::new();
    for query in dashboard_queries(DASHBOARD_JSON).unwrap() {
        if matches!(query.origin, Origin::Panel { .. }) {
            for name in metric_names(&vars().substitute(&query.expr)).unwrap() {
                on_panels.extend(catalog_metric(&name, &catalog));
            }
        }
    }
    let missing: Vec<_> = catalog
        .keys()
        .filter(|name| !on_panels.contains(*name))
        .collect();
    assert!(missing.is_empty(), "on no panel: {missing:?}");
}

/// Histogram queries read the native series `or` the classic `_bucket` series (Prometheus keeps
/// only one form) `or` the OpenTelemetry per-bucket counters, and never name an `le` value
/// (OpenMetrics writes `1024.0`, text 0.0.4 `1024`).
#[test]
fn histogram_queries_work_for_classic_and_native_histograms() {
    let histograms: Vec<String> = catalog()
        .into_iter()
        .filter(|(_, instrument)| *instrument == Instrument::Histogram)
        .map(|(name, _)| name)
        .collect();
    let counters = bucket_counters();
    let mut histogram_queries = 0;
    for query in all_queries() {
        let expr = vars().substitute(&query.expr);
        let selectors = selectors(&expr).unwrap();
        assert!(
            selectors
                .iter()
                .flat_map(|s| &s.matchers)
                .all(|m| m.label != "le"),
            "{}: hard-coded le in {expr}",
            query.origin
        );
        let compact: String = query.expr.split_whitespace().collect();
        let names: BTreeSet<String> = selectors.into_iter().filter_map(|s| s.name).collect();
        for h in &histograms {
            let forms = [
                ("native", names.contains(h)),
                ("classic", names.contains(&format!("{h}_bucket"))),
                ("bucket counter", names.contains(&counters[h])),
            ];
            if forms.iter().any(|(_, used)| *used) {
                histogram_queries += 1;
                let missing: Vec<_> = forms
                    .iter()
                    .filter(|(_, used)| !used)
                    .map(|(form, _)| *form)
                    .collect();
                assert!(
                    missing.is_empty() && compact.matches(")or").count() >= 2,
                    "{}: does not read the {missing:?} form of {h}: {}",
                    query.origin,
                    query.expr
                );
            }
            for part in ["_sum", "_count"] {
                assert!(
                    !names.contains(&format!("{h}{part}")),
                    "{}: {h}{part} does not exist with native histograms; use the counters",
                    query.origin
                );
            }
        }
    }
    assert!(histogram_queries >= 6, "{histogram_queries}");
}

/// Every panel has a description, a unit and the `${datasource}` variable as datasource.
#[test]
fn every_panel_is_documented_and_uses_the_datasource_variable() {
    let panels = dashboard_panels(DASHBOARD_JSON).unwrap();
    let mut titles = BTreeSet::new();
    for panel in panels.iter().filter(|p| p.kind != "row") {
        assert!(
            titles.insert((panel.kind.clone(), panel.title.clone())),
            "two {} panels titled {:?}",
            panel.kind,
            panel.title
        );
        assert!(
            !panel.description.is_empty() && !panel.description.contains('\n'),
            "{:?}: needs a one-line description",
            panel.title
        );
        assert!(
            panel.unit.as_deref().is_some_and(|u| !u.is_empty()),
            "{:?}: no unit",
            panel.title
        );
        assert_eq!(
            panel.datasource_uid.as_deref(),
            Some("${datasource}"),
            "{:?}",
            panel.title
        );
        assert!(
            !panel.target_datasource_uids.is_empty(),
            "{:?}: no query",
            panel.title
        );
        for uid in &panel.target_datasource_uids {
            assert_eq!(uid.as_deref(), Some("${datasource}"), "{:?}", panel.title);
        }
    }
    assert!(titles.len() >= 15, "{}", titles.len());

    // Byte quantities are in bytes, rates of bytes in bytes per second.
    for panel in panels.iter().filter(|p| p.kind != "row") {
        let title = panel.title.to_lowercase();
        if title.contains("bytes") {
            assert_eq!(panel.unit.as_deref(), Some("binBps"), "{:?}", panel.title);
        } else if title.contains("size") || title.contains("heap") || title.contains("peak") {
            assert_eq!(panel.unit.as_deref(), Some("bytes"), "{:?}", panel.title);
        }
    }
}

/// The query of dashboard variable `name` as `(selector, label)` of its `label_values`.
fn variable(name: &str) -> (Option<String>, String) {
    let variables = dashboard_variables(DASHBOARD_JSON).unwrap();
    let (_, kind, query) = variables
        .iter()
        .find(|(n, _, _)| n == name)
        .unwrap_or_else(|| panic!("no ${name} variable"));
    assert_eq!(kind, "query", "${name}");
    variable_query(query).unwrap_or_else(|| panic!("${name}: not label_values(...): {query}"))
}

/// A datasource variable of type prometheus; `$job` lists the `job` label of a catalog metric,
/// and `$instance` the `instance` label of a catalog metric within the chosen jobs.
#[test]
fn template_variables_read_heapsters_own_metrics() {
    let variables = dashboard_variables(DASHBOARD_JSON).unwrap();
    let datasource = variables.iter().find(|(n, _, _)| n == "datasource");
    let datasource = datasource.map(|(_, kind, query)| (kind.as_str(), query.as_str()));
    assert_eq!(datasource, Some(("datasource", "prometheus")));
    let catalog = catalog();
    for (name, label, filters) in [
        ("job", "job", &[][..]),
        ("instance", "instance", &["job"][..]),
    ] {
        let (selector, got_label) = variable(name);
        assert_eq!(got_label, label, "${name} lists the {label} label");
        let selector = selector.unwrap_or_else(|| panic!("${name}: no selector"));
        let parsed = selectors(&selector).unwrap_or_else(|e| panic!("${name}: {e}"));
        let [only] = parsed.as_slice() else {
            panic!("${name}: one selector expected in {selector}");
        };
        let metric = only.name.as_deref().unwrap_or_default();
        assert!(
            catalog.contains_key(metric),
            "${name}: {metric} is not a catalog metric"
        );
        let matched: Vec<_> = only
            .matchers
            .iter()
            .map(|m| (m.label.as_str(), m.op, m.value.as_str()))
            .collect();
        let expected: Vec<_> = filters
            .iter()
            .map(|&f| (f, "=~", format!("${f}")))
            .collect();
        let expected: Vec<_> = expected
            .iter()
            .map(|(l, op, v)| (*l, *op, v.as_str()))
            .collect();
        assert_eq!(
            matched, expected,
            "${name}: filtered by the variables before it"
        );
    }
}

/// Every selector of every panel keeps to the chosen jobs and instances: `job=~"$job"` and
/// `instance=~"$instance"`, read from the parsed expression.
#[test]
fn every_panel_selector_filters_by_job_and_instance() {
    let panel_queries = dashboard_queries(DASHBOARD_JSON)
        .unwrap()
        .into_iter()
        .filter(|q: &Query| matches!(q.origin, Origin::Panel { .. }));
    let mut checked = 0;
    for query in panel_queries {
        let expr = builtins().substitute(&query.expr);
        for selector in selectors(&expr).unwrap_or_else(|e| panic!("{}: {e}", query.origin)) {
            for label in ["job", "instance"] {
                let filtered = selector
                    .matchers
                    .iter()
                    .any(|m| m.label == label && m.op == "=~" && m.value == format!("${label}"));
                assert!(
                    filtered,
                    "{}: {:?} lacks {label}=~\"${label}\"",
                    query.origin, selector.name
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} selectors checked");
}

/// Alerts carry a summary and a description; recorded names follow the
/// `level:metric:operations` convention.
#[test]
fn rules_follow_conventions() {
    let rules = rules(RULES_YAML).unwrap();
    let mut alerts = 0;
    for rule in &rules {
        match &rule.query.origin {
            Origin::Alert { name } => {
                alerts += 1;
                for key in ["summary", "description"] {
                    assert!(
                        rule.annotations.iter().any(|a| a == key),
                        "alert {name} has no {key}"
                    );
                }
            }
            Origin::Record { name } => {
                assert_eq!(
                    name.split(':').count(),
                    3,
                    "{name}: not level:metric:operations"
                );
                assert!(
                    !name.contains("_total:"),
                    "{name}: drop _total after rate()"
                );
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(alerts >= 3, "{alerts}");
}
