//! The grammar of an `Accept` header (RFC 9110, sections 5.6 and 12.5.1): media ranges with
//! their parameters and `q` weights, quoted strings, and how a range matches an offer.

use super::{Escaping, Offer};

/// One media range of an `Accept` header.
#[derive(Debug)]
pub(super) struct Range<'a> {
    kind: &'a str,
    subtype: &'a str,
    /// Parameters other than `q` and `escaping`, names lowercased, values unquoted.
    params: Vec<(String, String)>,
    /// In thousandths, 0 to 1000.
    pub(super) quality: u16,
    pub(super) escaping: Option<Escaping>,
}

impl Range<'_> {
    pub(super) fn matches(&self, offer: Offer) -> bool {
        let (kind, subtype, required) = offer.media_type();
        if self.kind == "*" {
            return true;
        }
        if !self.kind.eq_ignore_ascii_case(kind) {
            return false;
        }
        if self.subtype == "*" {
            return true;
        }
        if !self.subtype.eq_ignore_ascii_case(subtype) {
            return false;
        }
        required.iter().all(|&(name, value)| {
            let asked = self
                .params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .or_else(|| {
                    (name == "version")
                        .then(|| Offer::default_version((kind, subtype)))
                        .flatten()
                });
            asked == Some(value)
        })
    }

    /// `*/*` < `type/*` < `type/subtype` < `type/subtype;param=...`.
    pub(super) fn specificity(&self) -> u8 {
        match (self.kind, self.subtype) {
            ("*", _) => 0,
            (_, "*") => 1,
            _ if self.params.is_empty() => 2,
            _ => 3,
        }
    }
}

/// The well-formed media ranges of an `Accept` value, in order.
pub(super) fn parse(accept: &str) -> Vec<Range<'_>> {
    split_outside_quotes(accept, ',')
        .filter_map(|element| {
            let element = element.trim_matches(is_ows);
            if element.is_empty() {
                return None;
            }
            parse_range(element)
        })
        .collect()
}

fn parse_range(element: &str) -> Option<Range<'_>> {
    let mut parts = split_outside_quotes(element, ';');
    let (kind, subtype) = parts.next()?.trim_matches(is_ows).split_once('/')?;
    if !is_token(kind) || !is_token(subtype) || (kind == "*" && subtype != "*") {
        return None;
    }
    let mut range = Range {
        kind,
        subtype,
        params: Vec::new(),
        quality: 1000,
        escaping: None,
    };
    for param in parts {
        let param = param.trim_matches(is_ows);
        if param.is_empty() {
            continue;
        }
        let (name, value) = param.split_once('=')?;
        if !is_token(name) {
            return None;
        }
        let value = unquote(value)?;
        let name = name.to_ascii_lowercase();
        match name.as_str() {
            "q" => range.quality = quality(&value)?,
            // An unknown scheme is ignored, as Prometheus's client library does.
            "escaping" => range.escaping = Escaping::parse(&value).or(range.escaping),
            _ => range.params.push((name, value)),
        }
    }
    Some(range)
}

/// A `qvalue` in thousandths: `0[.ddd]` or `1[.000]`.
pub(super) fn quality(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |n, digit| n * 10 + u16::from(digit - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// A token or a quoted-string, unquoted; `None` when it is neither.
pub(super) fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return is_token(value).then(|| value.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// `s` split at `separator` where it is not inside a quoted-string.
fn split_outside_quotes(s: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let s = rest?;
        let (mut quoted, mut escaped) = (false, false);
        for (i, c) in s.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == separator && !quoted => {
                    rest = Some(&s[i + c.len_utf8()..]);
                    return Some(&s[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(s)
    })
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

const fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}
