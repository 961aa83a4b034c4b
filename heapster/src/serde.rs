//! `Serialize` and `Deserialize` for [`Stats`] and [`Histogram`] (feature `serde`).
//!
//! The schema is stable: a `Stats` is a map from each field name (as in the Rust struct) to a
//! number, and each histogram a map `{"sum": u64, "counts": [u64; 64]}` where `counts[k]` counts
//! sizes in `(2^(k-1), 2^k]`. In JSON:
//!
//! ```json
//! {"allocations": 3, "allocated_bytes": 96, ..., "peak_bytes": 96,
//!  "allocation_sizes": {"sum": 96, "counts": [0, 0, 0, 0, 0, 3, 0, ...]}, ...}
//! ```
//!
//! Deserializing ignores unknown fields and takes missing ones as zero, so snapshots written by
//! older or newer versions still read.

use core::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeStruct, SerializeTuple, Serializer};

use crate::bucket::BUCKETS;
use crate::histogram::Histogram;
use crate::stats::Stats;

/// Field names that are not `Stats` fields, for the `Histogram` schema.
const HISTOGRAM_FIELDS: &[&str] = &["sum", "counts"];

/// `[u64; 64]` as a fixed-length tuple (serde implements arrays only up to 32).
struct Counts<'a>(&'a [u64; BUCKETS]);

impl Serialize for Counts<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(BUCKETS)?;
        for c in self.0 {
            tuple.serialize_element(c)?;
        }
        tuple.end()
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
impl Serialize for Histogram {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Histogram", 2)?;
        s.serialize_field("sum", &self.sum())?;
        s.serialize_field("counts", &Counts(self.counts()))?;
        s.end()
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
impl Serialize for Stats {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = Stats::COUNTERS.len() + Stats::GAUGES.len() + Stats::HISTOGRAMS.len();
        let mut s = serializer.serialize_struct("Stats", len)?;
        for (name, value) in self.counters().chain(self.gauges()) {
            s.serialize_field(name, &value)?;
        }
        for (name, histogram) in self.histograms() {
            s.serialize_field(name, histogram)?;
        }
        s.end()
    }
}

/// A map key, matched against a list of known names without allocating.
enum Key {
    Known(&'static str),
    Unknown,
}

struct KeyVisitor(&'static [&'static [&'static str]]);

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(self
            .0
            .iter()
            .flat_map(|names| names.iter())
            .find(|&&name| name == v)
            .map_or(Key::Unknown, |&name| Key::Known(name)))
    }
}

/// Deserializes one map key against `names`.
struct KeySeed(&'static [&'static [&'static str]]);

impl<'de> de::DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_identifier(KeyVisitor(self.0))
    }
}

/// Reads each entry of `map` whose key is one of `names` with `read` (given the name), and
/// skips the others.
fn read_fields<'de, A: MapAccess<'de>>(
    mut map: A,
    names: &'static [&'static [&'static str]],
    mut read: impl FnMut(&'static str, &mut A) -> Result<(), A::Error>,
) -> Result<(), A::Error> {
    while let Some(key) = map.next_key_seed(KeySeed(names))? {
        match key {
            Key::Known(name) => read(name, &mut map)?,
            Key::Unknown => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(())
}

/// The 64 bucket counts; fewer are padded with zeros, more are an error.
struct CountsVisitor;

impl<'de> Visitor<'de> for CountsVisitor {
    type Value = [u64; BUCKETS];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("at most 64 bucket counts")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut counts = [0u64; BUCKETS];
        let mut len = 0usize;
        while let Some(c) = seq.next_element::<u64>()? {
            *counts
                .get_mut(len)
                .ok_or_else(|| de::Error::invalid_length(len.saturating_add(1), &self))? = c;
            len = len.saturating_add(1);
        }
        Ok(counts)
    }
}

struct CountsSeed;

impl<'de> de::DeserializeSeed<'de> for CountsSeed {
    type Value = [u64; BUCKETS];
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_tuple(BUCKETS, CountsVisitor)
    }
}

struct HistogramVisitor;

impl<'de> Visitor<'de> for HistogramVisitor {
    type Value = Histogram;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a histogram {sum, counts}")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Histogram, A::Error> {
        let (mut counts, mut sum) = ([0u64; BUCKETS], 0u64);
        read_fields(map, &[HISTOGRAM_FIELDS], |name, map| {
            if name == "sum" {
                sum = map.next_value()?;
            } else {
                counts = map.next_value_seed(CountsSeed)?;
            }
            Ok(())
        })?;
        Ok(Histogram::from_parts(counts, sum))
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
impl<'de> Deserialize<'de> for Histogram {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct("Histogram", HISTOGRAM_FIELDS, HistogramVisitor)
    }
}

struct StatsVisitor;

impl<'de> Visitor<'de> for StatsVisitor {
    type Value = Stats;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("heapster stats")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Stats, A::Error> {
        let mut stats = Stats::new();
        let names = &[Stats::COUNTERS, Stats::GAUGES, Stats::HISTOGRAMS];
        read_fields(map, names, |name, map| {
            if let Some(value) = stats.get_mut(name) {
                *value = map.next_value()?;
            } else if let Some(histogram) = stats.histogram_mut(name) {
                *histogram = map.next_value()?;
            }
            Ok(())
        })?;
        Ok(stats)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
impl<'de> Deserialize<'de> for Stats {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Field names are dynamic (from the field tables), so ask for a map.
        d.deserialize_map(StatsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    fn sample() -> Stats {
        let mut s = Stats::new();
        for (i, name) in Stats::COUNTERS.iter().chain(Stats::GAUGES).enumerate() {
            *s.get_mut(name).unwrap() = (i as u64 + 1) * 1_000_003;
        }
        for (i, name) in Stats::HISTOGRAMS.iter().enumerate() {
            let h = s.histogram_mut(name).unwrap();
            h.record(1);
            h.record(1 << (i + 10));
            h.record(u64::MAX);
        }
        s
    }

    #[test]
    fn json_round_trip() {
        let s = sample();
        let json = serde_json::to_string(&s).unwrap();
        let back: Stats = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn schema_is_stable() {
        let mut s = Stats::new();
        s.allocations = 3;
        s.allocated_bytes = 96;
        s.allocation_sizes.record(32);
        let value: serde_json::Value = serde_json::to_value(s).unwrap();
        assert_eq!(value["allocations"], 3);
        assert_eq!(value["allocated_bytes"], 96);
        assert_eq!(value["allocation_sizes"]["sum"], 32);
        let counts = value["allocation_sizes"]["counts"].as_array().unwrap();
        assert_eq!(counts.len(), 64);
        assert_eq!(counts[5], 1);
        let keys: std::vec::Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(
            keys.len(),
            Stats::COUNTERS.len() + Stats::GAUGES.len() + Stats::HISTOGRAMS.len()
        );
    }

    #[test]
    fn tolerant_of_unknown_and_missing_fields() {
        let back: Stats = serde_json::from_str(
            r#"{"allocations": 7, "from_the_future": [1, 2], "realloc_grow_sizes": {"counts": [0, 2], "sum": 3, "new": null}}"#,
        )
        .unwrap();
        let mut expected = Stats::new();
        expected.allocations = 7;
        expected.realloc_grow_sizes = Histogram::from_parts(
            {
                let mut c = [0; BUCKETS];
                c[1] = 2;
                c
            },
            3,
        );
        assert_eq!(back, expected);
    }

    #[test]
    fn rejects_too_many_buckets_and_wrong_types() {
        let json = std::format!(r#"{{"allocation_sizes": {{"counts": {:?}}}}}"#, [1u64; 65]);
        assert!(serde_json::from_str::<Stats>(&json).is_err());
        assert!(serde_json::from_str::<Stats>(r#"{"allocations": "many"}"#).is_err());
        assert!(serde_json::from_str::<Stats>(r#"{"allocations": -1}"#).is_err());
    }
}
