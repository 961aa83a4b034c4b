//! Start timestamps in OpenMetrics text: a `_created` line after each counter and histogram
//! series, which `prometheus-client`'s encoder does not write.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Adds to the OpenMetrics `text`, in place, `<family>_created{labels} <seconds>` after the
/// last sample of every counter series (`_total`) and histogram series (the `+Inf` bucket), as
/// OpenMetrics 1.0 places it. Every counter and histogram of `text` is given `created`: call it
/// for a registry that holds heapster's metrics alone. Allocates nothing when `text` has room
/// for the lines (about 60 bytes each).
pub(crate) fn add_created(text: &mut String, created: SystemTime) {
    let since = created.duration_since(UNIX_EPOCH).unwrap_or_default();
    // The family being read: its name's range in `text`, which no insertion moves (insertions
    // come after it).
    let mut family: Option<(usize, usize, Kind)> = None;
    let mut pos = 0;
    while pos < text.len() {
        let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1);
        let line = text[pos..end].trim_end_matches('\n');
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let start = pos + "# TYPE ".len();
            family = rest.split_once(' ').and_then(|(name, kind)| {
                let kind = match kind {
                    "counter" => Kind::Counter,
                    "histogram" => Kind::Histogram,
                    _ => return None,
                };
                Some((start, start + name.len(), kind))
            });
            pos = end;
            continue;
        }
        let mut created_line = Line::new();
        if let Some((name_start, name_end, kind)) = family {
            let name = &text[name_start..name_end];
            if let Some((suffix, labels)) = line.strip_prefix(name).and_then(series) {
                let created = match (kind, suffix) {
                    (Kind::Counter, "_total") => true,
                    // The +Inf bucket is the last of a series.
                    (Kind::Histogram, "_bucket") => labels.split(',').any(|l| l == "le=\"+Inf\""),
                    _ => false,
                };
                if created {
                    // The series' labels but `le`, in their order.
                    let _ = write!(created_line, "{name}_created");
                    let mut others = labels.split(',').filter(|l| !l.starts_with("le="));
                    if let Some(first) = others.next().filter(|l| !l.is_empty()) {
                        let _ = write!(created_line, "{{{first}");
                        for label in others {
                            let _ = write!(created_line, ",{label}");
                        }
                        let _ = write!(created_line, "}}");
                    }
                    let _ = writeln!(
                        created_line,
                        " {}.{:03}",
                        since.as_secs(),
                        since.subsec_millis()
                    );
                }
            }
        }
        let added = created_line.as_str();
        text.insert_str(end, added);
        pos = end + added.len();
    }
}

/// `(suffix, labels)` of a sample line after its family name: `_total{a="b"} 1` gives
/// `("_total", "a=\"b\"")`.
fn series(sample: &str) -> Option<(&str, &str)> {
    let (series, _value) = sample.split_once(' ')?;
    Some(match series.split_once('{') {
        Some((suffix, labels)) => (suffix, labels.strip_suffix('}')?),
        None => (series, ""),
    })
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Histogram,
}

/// A line built on the stack (heapster's names, labels and a timestamp fit easily); what does
/// not fit is dropped, making the line invalid rather than allocating.
struct Line {
    bytes: [u8; 256],
    len: usize,
}

impl Line {
    const fn new() -> Self {
        Self {
            bytes: [0; 256],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let room = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        room.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_line_after_each_counter_and_histogram_series() {
        let text = "\
# HELP a_total A.
# TYPE a counter
a_total 3
# TYPE b counter
b_total{kind=\"x\"} 1
b_total{kind=\"y\"} 2
# TYPE g gauge
g 5
# TYPE h histogram
# UNIT h bytes
h_sum{d=\"up\"} 3.0
h_count{d=\"up\"} 1
h_bucket{le=\"8.0\",d=\"up\"} 1
h_bucket{le=\"+Inf\",d=\"up\"} 1
# TYPE i histogram
i_sum 0.0
i_count 0
i_bucket{le=\"+Inf\"} 0
# TYPE j histogram
j_sum{env=\"x\",d=\"up\"} 0.0
j_count{env=\"x\",d=\"up\"} 0
j_bucket{env=\"x\",le=\"+Inf\",d=\"up\"} 0
# EOF
";
        let mut out = text.to_owned();
        add_created(
            &mut out,
            UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123),
        );
        // Without the added lines, the text is unchanged ...
        let kept: String = out
            .split_inclusive('\n')
            .filter(|l| !l.contains("_created"))
            .collect();
        assert_eq!(kept, text);
        // ... and each added line follows the last sample of its series.
        let lines: Vec<&str> = out.lines().collect();
        let added: Vec<(&str, &str)> = lines
            .windows(2)
            .filter(|w| w[1].contains("_created"))
            .map(|w| (w[0], w[1]))
            .collect();
        let t = "1700000000.123";
        assert_eq!(
            added,
            [
                ("a_total 3", format!("a_created {t}").as_str()),
                (
                    "b_total{kind=\"x\"} 1",
                    &format!("b_created{{kind=\"x\"}} {t}")
                ),
                (
                    "b_total{kind=\"y\"} 2",
                    &format!("b_created{{kind=\"y\"}} {t}")
                ),
                (
                    "h_bucket{le=\"+Inf\",d=\"up\"} 1",
                    &format!("h_created{{d=\"up\"}} {t}")
                ),
                ("i_bucket{le=\"+Inf\"} 0", &format!("i_created {t}")),
                (
                    "j_bucket{env=\"x\",le=\"+Inf\",d=\"up\"} 0",
                    &format!("j_created{{env=\"x\",d=\"up\"}} {t}")
                ),
            ]
        );
    }
}
