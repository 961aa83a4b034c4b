//! heapster's Grafana dashboard (`heapster.json`) and Prometheus rules (`heapster-rules.yml`),
//! and the helpers that check them: every PromQL expression with where it comes from, parsed
//! by `promql-parser` (so a syntax error is caught without a server), the selectors it uses
//! (metric names and label matchers), and Grafana's template variables substituted.
//!
//! The checks themselves are this crate's tests (`tests/`): every metric name used exists in
//! heapster-exporter's catalog and every catalog metric is on a panel; the real-Prometheus test
//! of the demo (in `heapster-examples`) runs every expression against a live server.
//!
//! ```
//! use heapster_dashboards::{DASHBOARD_JSON, Variables, dashboard_queries, metric_names};
//!
//! let vars = Variables::new()
//!     .with("job", "demo")
//!     .with("instance", "127.0.0.1:9000")
//!     .with("__rate_interval", "1m")
//!     .with("__range", "1h");
//! let mut names = std::collections::BTreeSet::new();
//! for query in dashboard_queries(DASHBOARD_JSON)? {
//!     names.extend(metric_names(&vars.substitute(&query.expr))?);
//! }
//! assert!(names.contains("heapster_allocations_total"));
//! # Ok::<(), heapster_dashboards::Error>(())
//! ```

mod error;
mod promql;
mod sources;

pub use crate::error::Error;
pub use crate::promql::{
    Matcher, Selector, Variables, metric_names, operands, parse, selectors, variable_query,
};
pub use crate::sources::{
    DASHBOARD_JSON, Origin, Panel, Query, RULES_YAML, Rule, dashboard_panels, dashboard_queries,
    dashboard_variables, rules,
};
