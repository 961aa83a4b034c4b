//! PromQL read by `promql-parser`: the selectors (metric names and label matchers) of an
//! expression, the operands of its comparisons and set operators, and Grafana's template
//! variables, which must be substituted before an expression parses.

use std::collections::BTreeSet;

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr};
use promql_parser::util::{ExprVisitor, walk_expr};

use crate::error::Error;

/// Grafana's template variables with the values a query should get, e.g. `("job", "api")` for
/// `$job` and `${job}`.
#[derive(Clone, Debug, Default)]
pub struct Variables {
    values: Vec<(String, String)>,
}

impl Variables {
    /// No variables.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `$name` (and `${name}`) with `value`.
    #[must_use]
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.values.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `expr` with every known variable replaced. Longer names are replaced first, so `$job`
    /// does not eat the start of `$jobs`.
    #[must_use]
    pub fn substitute(&self, expr: &str) -> String {
        let mut values: Vec<_> = self.values.iter().collect();
        values.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
        let mut out = expr.to_owned();
        for (name, value) in values {
            out = out.replace(&format!("${{{name}}}"), value);
            out = out.replace(&format!("${name}"), value);
        }
        out
    }

    /// Variables left in `expr` (`$` followed by a name), for a test to report.
    #[must_use]
    pub fn unresolved(expr: &str) -> Vec<String> {
        expr.split('$')
            .skip(1)
            .map(|tail| {
                let name: String = tail
                    .trim_start_matches('{')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                format!("${name}")
            })
            .collect()
    }
}

/// A label matcher of a selector, e.g. `job=~"api"`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Matcher {
    /// The label name.
    pub label: String,
    /// The operator: `=`, `!=`, `=~` or `!~`.
    pub op: &'static str,
    /// The value or regular expression.
    pub value: String,
}

/// A vector selector of an expression: the metric name it selects (if given by name) and its
/// label matchers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Selector {
    /// The metric name, e.g. `x_bucket` in `rate(x_bucket{job="a"}[5m])`.
    pub name: Option<String>,
    /// The label matchers, in the order written (`or` alternatives not included).
    pub matchers: Vec<Matcher>,
}

/// Parses `expr` (variables substituted) as PromQL.
///
/// # Errors
/// [`Error::Promql`] with the parser's message when `expr` is not valid PromQL.
pub fn parse(expr: &str) -> Result<Expr, Error> {
    parser::parse(expr).map_err(|message| Error::Promql {
        expr: expr.to_owned(),
        message,
    })
}

/// Every vector selector of `expr`, in the order written, matrix selectors and subqueries
/// included.
///
/// ```
/// use heapster_dashboards::selectors;
///
/// let s = selectors(r#"sum by (le) (rate(x_bucket{job="a"}[5m])) / y"#)?;
/// assert_eq!(s[0].name.as_deref(), Some("x_bucket"));
/// assert_eq!((s[0].matchers[0].label.as_str(), s[0].matchers[0].op), ("job", "="));
/// assert_eq!(s[1].name.as_deref(), Some("y"));
/// # Ok::<(), heapster_dashboards::Error>(())
/// ```
///
/// # Errors
/// [`Error::Promql`] when `expr` is not valid PromQL.
pub fn selectors(expr: &str) -> Result<Vec<Selector>, Error> {
    struct Collect(Vec<Selector>);
    impl ExprVisitor for Collect {
        type Error = std::convert::Infallible;
        fn pre_visit(&mut self, expr: &Expr) -> Result<bool, Self::Error> {
            let vs = match expr {
                Expr::VectorSelector(vs) => vs,
                Expr::MatrixSelector(ms) => &ms.vs,
                _ => return Ok(true),
            };
            let all = &vs.matchers.matchers;
            // `{__name__="x"}` selects `x` too.
            let by_matcher = all
                .iter()
                .find(|m| m.name == "__name__" && m.op == MatchOp::Equal)
                .map(|m| m.value.clone());
            let matchers = all.iter().filter(|m| m.name != "__name__");
            self.0.push(Selector {
                name: vs.name.clone().or(by_matcher),
                matchers: matchers
                    .map(|m| Matcher {
                        label: m.name.clone(),
                        op: match m.op {
                            MatchOp::Equal => "=",
                            MatchOp::NotEqual => "!=",
                            MatchOp::Re(_) => "=~",
                            MatchOp::NotRe(_) => "!~",
                        },
                        value: m.value.clone(),
                    })
                    .collect(),
            });
            Ok(true)
        }
    }
    let mut collect = Collect(Vec::new());
    let Ok(_) = walk_expr(&mut collect, &parse(expr)?);
    Ok(collect.0)
}

/// The metric names that `expr` selects, e.g. `{"x_bucket", "y"}` for
/// `sum by (le) (rate(x_bucket{job="a"}[5m])) / y`.
///
/// # Errors
/// [`Error::Promql`] when `expr` is not valid PromQL.
pub fn metric_names(expr: &str) -> Result<BTreeSet<String>, Error> {
    Ok(selectors(expr)?
        .into_iter()
        .filter_map(|s| s.name)
        .collect())
}

/// The operands of `expr`'s comparisons and set operators (`and`, `or`, `unless`), split
/// recursively through parentheses and written back as PromQL: for
/// `(a > 2 * b) and on (job) c`, `["a", "2 * b", "c"]`. An expression that does not parse is
/// its own single operand (Prometheus then reports the error).
///
/// An alert's expression is empty while the alert does not fire; its operands are the series
/// it watches, which a working setup must have.
#[must_use]
pub fn operands(expr: &str) -> Vec<String> {
    fn split(expr: &Expr, out: &mut Vec<String>) {
        match expr {
            Expr::Paren(p) => split(&p.expr, out),
            Expr::Binary(b) if b.op.is_comparison_operator() || b.op.is_set_operator() => {
                split(&b.lhs, out);
                split(&b.rhs, out);
            }
            other => out.push(other.to_string()),
        }
    }
    let Ok(parsed) = parse(expr) else {
        return vec![expr.to_owned()];
    };
    let mut out = Vec::new();
    split(&parsed, &mut out);
    out
}

/// `label_values(selector, label)` (Grafana's variable query) to `(selector, label)`;
/// `label_values(label)` to `(None, label)`; `None` for any other query.
#[must_use]
pub fn variable_query(query: &str) -> Option<(Option<String>, String)> {
    let args = query
        .trim()
        .strip_prefix("label_values(")?
        .strip_suffix(')')?;
    // A label name has no comma, so the last comma ends the selector.
    Some(match args.rsplit_once(',') {
        Some((selector, label)) => (Some(selector.trim().to_owned()), label.trim().to_owned()),
        None => (None, args.trim().to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        metric_names(expr).unwrap().into_iter().collect()
    }

    #[test]
    fn finds_metric_names_and_skips_the_rest() {
        assert_eq!(
            names(
                r#"histogram_quantile(0.9, sum by (job, le) (rate(x_bucket{job=~"a|b", le!="1"}[5m] offset 1h)))
                   or on (job) y / ignoring(instance) z"#
            ),
            ["x_bucket", "y", "z"]
        );
        assert_eq!(
            names("sum without (instance) (a:b_c:rate5m) > 1e3 * 0x10 + 1.5"),
            ["a:b_c:rate5m"]
        );
        assert_eq!(names("vector(1) + time()"), Vec::<String>::new());
        assert_eq!(names(r#"{__name__="x"}"#), ["x"]);
        assert_eq!(names("max(a) # b\n - c"), ["a", "c"]);
    }

    #[test]
    fn invalid_promql_is_an_error_that_names_the_expression() {
        for bad in ["sum(x", "rate(x)", "x{job=}", "a and", "nosuchfunction(x)"] {
            let error = metric_names(bad).unwrap_err();
            assert!(error.to_string().contains(bad), "{error}");
        }
    }

    #[test]
    fn reads_label_matchers() {
        let s = selectors(r#"x{job=~"$job", instance!="a", le!~"1|2", k="v"}"#).unwrap();
        let matchers: Vec<_> = s[0]
            .matchers
            .iter()
            .map(|m| (m.label.as_str(), m.op, m.value.as_str()))
            .collect();
        assert_eq!(
            matchers,
            [
                ("job", "=~", "$job"),
                ("instance", "!=", "a"),
                ("le", "!~", "1|2"),
                ("k", "=", "v")
            ]
        );
    }

    #[test]
    fn splits_comparisons_and_set_operators() {
        assert_eq!(
            operands("(a > 2 * b) and on (job) (c:d >= bool 3)"),
            ["a", "2 * b", "c:d", "3"]
        );
        assert_eq!(
            operands("max by (job) (x) > on (job) group_left 0.9 * y"),
            ["max by (job) (x)", "0.9 * y"]
        );
        assert_eq!(operands("a unless b or c"), ["a", "b", "c"]);
        assert_eq!(operands("rate(x[5m])"), ["rate(x[5m])"]);
        assert_eq!(
            operands("sum(x"),
            ["sum(x"],
            "unparsable: left to Prometheus"
        );
    }

    #[test]
    fn substitutes_variables_longest_first() {
        let vars = Variables::new()
            .with("job", "api")
            .with("jobs", "many")
            .with("__rate_interval", "15s");
        assert_eq!(
            vars.substitute(r#"rate(x{job=~"$job", j="${jobs}"}[$__rate_interval]) $jobs"#),
            r#"rate(x{job=~"api", j="many"}[15s]) many"#
        );
        assert_eq!(
            Variables::unresolved("a[$__range] ${x}"),
            ["$__range", "$x"]
        );
    }

    #[test]
    fn reads_grafana_variable_queries() {
        assert_eq!(
            variable_query(r#"label_values(up{job=~"$job", a="x,y"}, instance)"#),
            Some((
                Some(r#"up{job=~"$job", a="x,y"}"#.to_owned()),
                "instance".to_owned()
            ))
        );
        assert_eq!(
            variable_query("label_values(job)"),
            Some((None, "job".to_owned()))
        );
        assert_eq!(variable_query("up"), None);
    }
}
