//! Just enough PromQL reading to check queries: the metric names an expression selects, the
//! operands of its comparisons and set operators, and Grafana's template variables.
//!
//! This is not a PromQL parser. Prometheus itself decides whether an expression parses (the
//! real-Prometheus test sends every expression to it); these helpers only need to find names
//! in expressions that do parse.

use std::collections::BTreeSet;

/// Aggregation operators, functions and keywords: identifiers that are never metric names.
const NOT_METRICS: &[&str] = &[
    // Keywords and binary operators.
    "and",
    "or",
    "unless",
    "bool",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "inf",
    "nan",
    "atan2",
    // Aggregation operators.
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];

/// Keywords followed by a parenthesised list of label names.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

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
        let mut found = Vec::new();
        let mut rest = expr;
        while let Some(at) = rest.find('$') {
            let tail = rest[at + 1..].trim_start_matches('{');
            let name: String = tail
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.push(format!("${name}"));
            rest = &rest[at + 1..];
        }
        found
    }
}

/// The metric names that `expr` selects, e.g. `{"x_bucket", "y"}` for
/// `sum by (le) (rate(x_bucket{job="a"}[5m])) / y`.
///
/// Identifiers followed by `(` are functions, label names inside `{...}` and after `by`, `on`
/// and the like are skipped, and so are strings, numbers and durations.
#[must_use]
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let bytes = expr.as_bytes();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' | b'\'' | b'`' => i = skip_string(bytes, i),
            b'{' => i = skip_group(bytes, i, b'{', b'}'),
            b'[' => i = skip_group(bytes, i, b'[', b']'),
            b'#' => {
                // A comment runs to the end of the line.
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            c if c.is_ascii_digit() || c == b'.' => {
                // Numbers, including 1e3, 0x1f and durations such as 1h30m.
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
            }
            c if is_ident_start(c) => {
                let start = i;
                while i < bytes.len() && is_ident_char(bytes[i]) {
                    i += 1;
                }
                let ident = &expr[start..i];
                let next = skip_space(bytes, i);
                let lower = ident.to_ascii_lowercase();
                if LABEL_LISTS.contains(&lower.as_str()) {
                    if next < bytes.len() && bytes[next] == b'(' {
                        i = skip_group(bytes, next, b'(', b')');
                    }
                } else if next < bytes.len() && bytes[next] == b'(' {
                    // A function call; its arguments are read on.
                } else if !NOT_METRICS.contains(&lower.as_str()) {
                    names.insert(ident.to_owned());
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// The operands of `expr`'s comparisons and set operators (`and`, `or`, `unless`), split
/// recursively through parentheses, with matching modifiers (`on (...)`, `group_left`,
/// `bool`, ...) removed: for `(a > 2 * b) and on (job) c`, `["a", "2 * b", "c"]`.
///
/// An alert's expression is empty while the alert does not fire; its operands are the series
/// it watches, which a working setup must have.
#[must_use]
pub fn operands(expr: &str) -> Vec<String> {
    let expr = strip_modifiers(expr.trim());
    let expr = strip_outer_parens(expr);
    match split_top_level(expr) {
        Some(parts) => parts.iter().flat_map(|part| operands(part)).collect(),
        None => vec![expr.to_owned()],
    }
}

/// `label_values(selector, label)` (Grafana's variable query) to `selector`; `label_values(label)`
/// to `None`; any other query unchanged.
#[must_use]
pub fn variable_query_selector(query: &str) -> Option<String> {
    let query = query.trim();
    let Some(args) = query
        .strip_prefix("label_values(")
        .and_then(|rest| rest.strip_suffix(')'))
    else {
        return Some(query.to_owned());
    };
    let bytes = args.as_bytes();
    let mut depth = 0usize;
    let mut last_comma = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\'' | b'`' => {
                i = skip_string(bytes, i);
                continue;
            }
            b'(' | b'{' | b'[' => depth += 1,
            b')' | b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => last_comma = Some(i),
            _ => {}
        }
        i += 1;
    }
    last_comma.map(|at| args[..at].trim().to_owned())
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The index just past the string starting at `i`.
fn skip_string(bytes: &[u8], i: usize) -> usize {
    let quote = bytes[i];
    let mut j = i + 1;
    while j < bytes.len() {
        if bytes[j] == b'\\' && quote != b'`' {
            j += 2;
            continue;
        }
        if bytes[j] == quote {
            return j + 1;
        }
        j += 1;
    }
    bytes.len()
}

/// The index just past the group opened by `open` at `i`, strings included.
fn skip_group(bytes: &[u8], i: usize, open: u8, close: u8) -> usize {
    let mut depth = 0usize;
    let mut j = i;
    while j < bytes.len() {
        match bytes[j] {
            b'"' | b'\'' | b'`' => {
                j = skip_string(bytes, j);
                continue;
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    bytes.len()
}

fn strip_outer_parens(mut expr: &str) -> &str {
    loop {
        let bytes = expr.as_bytes();
        if bytes.first() == Some(&b'(') && skip_group(bytes, 0, b'(', b')') == bytes.len() {
            expr = expr[1..expr.len() - 1].trim();
        } else {
            return expr;
        }
    }
}

/// Removes the vector-matching modifiers that start the right operand of a binary operator.
fn strip_modifiers(mut expr: &str) -> &str {
    loop {
        let word: String = expr
            .bytes()
            .take_while(|c| is_ident_char(*c))
            .map(char::from)
            .collect();
        let lower = word.to_ascii_lowercase();
        if lower == "bool" {
            expr = expr[word.len()..].trim_start();
        } else if LABEL_LISTS.contains(&lower.as_str()) && lower != "by" && lower != "without" {
            let rest = expr[word.len()..].trim_start();
            expr = if rest.starts_with('(') {
                rest[skip_group(rest.as_bytes(), 0, b'(', b')')..].trim_start()
            } else {
                rest
            };
        } else {
            return expr;
        }
    }
}

/// Splits at the top-level operators of the lowest precedence present: `or`, then `and` and
/// `unless`, then comparisons. `None` when there is none.
fn split_top_level(expr: &str) -> Option<Vec<&str>> {
    let bytes = expr.as_bytes();
    // (start, end) of each top-level operator, per precedence level.
    let mut levels: [Vec<(usize, usize)>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' | b'\'' | b'`' => {
                i = skip_string(bytes, i);
                continue;
            }
            b'(' => {
                i = skip_group(bytes, i, b'(', b')');
                continue;
            }
            b'{' => {
                i = skip_group(bytes, i, b'{', b'}');
                continue;
            }
            b'[' => {
                i = skip_group(bytes, i, b'[', b']');
                continue;
            }
            b'>' | b'<' | b'=' | b'!' => {
                let two = bytes.get(i + 1) == Some(&b'=');
                if (c == b'=' || c == b'!') && !two {
                    i += 1;
                    continue;
                }
                let end = if two { i + 2 } else { i + 1 };
                levels[2].push((i, end));
                i = end;
                continue;
            }
            c if is_ident_start(c) => {
                let start = i;
                while i < bytes.len() && is_ident_char(bytes[i]) {
                    i += 1;
                }
                match expr[start..i].to_ascii_lowercase().as_str() {
                    "or" => levels[0].push((start, i)),
                    "and" | "unless" => levels[1].push((start, i)),
                    _ => {}
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let ops = levels.into_iter().find(|ops| !ops.is_empty())?;
    let mut parts = Vec::with_capacity(ops.len() + 1);
    let mut from = 0;
    for (start, end) in ops {
        parts.push(expr[from..start].trim());
        from = end;
    }
    parts.push(expr[from..].trim());
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        metric_names(expr).into_iter().collect()
    }

    #[test]
    fn finds_metric_names_and_skips_the_rest() {
        assert_eq!(
            names(
                r#"histogram_quantile(0.9, sum by (job, le) (rate(x_bucket{job=~"a|b", le!="1"}[5m] offset 1h)))
                   or on (job) group_left y / ignoring(instance) bool z"#
            ),
            ["x_bucket", "y", "z"]
        );
        assert_eq!(
            names("sum without (instance) (a:b_c:rate5m) > 1e3 * 0x10 + 1.5"),
            ["a:b_c:rate5m"]
        );
        assert_eq!(names("vector(1) + time()"), Vec::<String>::new());
        assert_eq!(names(r#"{__name__="x"}"#), Vec::<String>::new());
        assert_eq!(names("max(a) # b\n - c"), ["a", "c"]);
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
        assert_eq!(
            operands(r#"sum(rate(x{a!="b", c="d"}[5m])) or f(y == 1)"#),
            [r#"sum(rate(x{a!="b", c="d"}[5m]))"#, "f(y == 1)"]
        );
        assert_eq!(operands("a unless b or c"), ["a", "b", "c"]);
        assert_eq!(operands("rate(x[5m])"), ["rate(x[5m])"]);
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
            variable_query_selector(r#"label_values(up{job=~"$job", a="x,y"}, instance)"#)
                .as_deref(),
            Some(r#"up{job=~"$job", a="x,y"}"#)
        );
        assert_eq!(variable_query_selector("label_values(job)"), None);
        assert_eq!(variable_query_selector("up").as_deref(), Some("up"));
    }
}
