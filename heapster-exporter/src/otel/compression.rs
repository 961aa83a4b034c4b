//! [`Compression`]: how an OTLP request body is encoded.

use std::io::Write;

/// How the body of each OTLP request is compressed (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// Sent as is (the default).
    #[default]
    None,
    /// gzip, with `Content-Encoding: gzip`: a request of heapster's metrics alone shrinks to
    /// about half (1.5 of 3.3 KB in `tests/otel_answers.rs`).
    Gzip,
}

impl Compression {
    /// Parses an `OTEL_EXPORTER_OTLP_COMPRESSION` value: `gzip` or `none`.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "gzip" => Some(Self::Gzip),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    /// `body` encoded, and the `Content-Encoding` to send with it, if any.
    pub(crate) fn encode(self, body: Vec<u8>) -> (Vec<u8>, Option<&'static str>) {
        match self {
            Self::None => (body, None),
            Self::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(body.len() / 4),
                    flate2::Compression::fast(),
                );
                // Writing to a `Vec` does not fail; if it did, the body goes uncompressed.
                match encoder.write_all(&body).and_then(|()| encoder.finish()) {
                    Ok(gzipped) => (gzipped, Some("gzip")),
                    Err(_) => (body, None),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn gzip_round_trips_and_says_so() {
        let body: Vec<u8> = (0..10_000u32).flat_map(|i| (i % 7).to_le_bytes()).collect();
        let (gzipped, encoding) = Compression::Gzip.encode(body.clone());
        assert_eq!(encoding, Some("gzip"));
        assert!(gzipped.len() < body.len() / 4, "{}", gzipped.len());
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(gzipped.as_slice())
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, body);
        assert_eq!(Compression::None.encode(body.clone()), (body, None));
        assert_eq!(Compression::parse(" GZIP"), Some(Compression::Gzip));
        assert_eq!(Compression::parse("zstd"), None);
    }
}
