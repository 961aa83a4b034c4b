//! [`Error`]: everything that can go wrong in the exporter, with its source.

use std::fmt;
use std::io;
use std::net::SocketAddr;

/// An error of the exporter. Every variant that wraps another error returns it from
/// [`source`](std::error::Error::source).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A setting was rejected by a fallible setter.
    InvalidConfig {
        /// Which setting.
        setting: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// The HTTP listener's address did not resolve to a socket address: no port, a bad port, an
    /// unknown host name.
    Resolve {
        /// The address as it was given (its `Debug` form, e.g. `"localhost"` with quotes).
        addr: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// The HTTP listener could not bind its address (address in use, not available, no
    /// permission...).
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// The exporter's background thread or its runtime could not be started, or it panicked.
    Runtime(io::Error),
    /// A metric could not be encoded (a collector registered next to ours failed, or a label
    /// value could not be written).
    Encode(fmt::Error),
    /// The protobuf exposition was asked of a [`Renderer`](crate::Renderer) that does not
    /// [serve it](crate::Renderer::serves_protobuf): one of a registry of yours.
    #[cfg(feature = "protobuf")]
    #[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
    ProtobufNotServed,
    /// An OTLP export was not delivered, or only in part: its
    /// [`ExportError`](crate::otel::ExportError) says what the collector did and, where the
    /// mistake is a common one, how to fix it.
    #[cfg(feature = "otel")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
    Export(crate::otel::ExportError),
    /// The meter provider did not shut down cleanly, for a reason other than a failed export.
    #[cfg(feature = "otel")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
    Shutdown(opentelemetry_sdk::error::OTelSdkError),
}

impl Error {
    pub(crate) fn invalid(setting: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidConfig {
            setting,
            reason: reason.into(),
        }
    }

    /// The message and the messages of every source, joined by `: `, for a one-line log.
    ///
    /// ```
    /// let busy = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = busy.local_addr()?;
    /// # #[cfg(feature = "http")] {
    /// let error = heapster_exporter::ExporterBuilder::new(heapster::Stats::new())
    ///     .with_http_listener(addr)
    ///     .install()
    ///     .unwrap_err();
    /// assert!(error.chain().starts_with(&format!("cannot listen on {addr}: ")));
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn chain(&self) -> String {
        let mut message = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(e) = source {
            message.push_str(": ");
            message.push_str(&e.to_string());
            source = e.source();
        }
        message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidConfig { setting, reason } => write!(f, "invalid {setting}: {reason}"),
            Self::Resolve { addr, .. } => write!(f, "cannot resolve the listen address {addr}"),
            Self::Bind { addr, .. } => write!(f, "cannot listen on {addr}"),
            Self::Runtime(_) => f.write_str("cannot run the exporter's background thread"),
            Self::Encode(_) => f.write_str("cannot encode the metrics"),
            #[cfg(feature = "protobuf")]
            Self::ProtobufNotServed => f.write_str(
                "the protobuf exposition is served for the builder's own registry only; \
                 a registry of yours is served in the text formats",
            ),
            #[cfg(feature = "otel")]
            Self::Export(e) => e.fmt(f),
            #[cfg(feature = "otel")]
            Self::Shutdown(_) => f.write_str("the meter provider did not shut down cleanly"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidConfig { .. } => None,
            Self::Resolve { source, .. } | Self::Bind { source, .. } | Self::Runtime(source) => {
                Some(source)
            }
            Self::Encode(source) => Some(source),
            #[cfg(feature = "protobuf")]
            Self::ProtobufNotServed => None,
            // The export error's own source: its message is this one's.
            #[cfg(feature = "otel")]
            Self::Export(e) => e.source(),
            #[cfg(feature = "otel")]
            Self::Shutdown(source) => Some(source),
        }
    }
}

impl From<fmt::Error> for Error {
    fn from(e: fmt::Error) -> Self {
        Self::Encode(e)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn sources_are_kept() {
        let addr: SocketAddr = ([127, 0, 0, 1], 9).into();
        let e = Error::Bind {
            addr,
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        assert_eq!(e.to_string(), "cannot listen on 127.0.0.1:9");
        let source = e.source().expect("a source");
        assert_eq!(
            source.downcast_ref::<io::Error>().map(io::Error::kind),
            Some(io::ErrorKind::AddrInUse)
        );
        assert!(Error::invalid("namespace", "empty").source().is_none());
        assert!(Error::from(fmt::Error).source().is_some());
    }
}
