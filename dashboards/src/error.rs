//! Why a dashboard or rules file could not be read.

/// A dashboard or rules file that could not be read.
#[derive(Debug)]
pub enum Error {
    /// The dashboard is not valid JSON.
    Json(serde_json::Error),
    /// The rules file is not valid YAML.
    Yaml(yaml_rust2::ScanError),
    /// The file parses, but is not shaped like a dashboard or a rules file.
    Format(String),
    /// An expression is not valid PromQL.
    Promql {
        /// The expression.
        expr: String,
        /// What the parser reported.
        message: String,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Json(_) => f.write_str("the dashboard is not valid JSON"),
            Self::Yaml(_) => f.write_str("the rules file is not valid YAML"),
            Self::Format(what) => f.write_str(what),
            Self::Promql { expr, message } => write!(f, "not valid PromQL: {message}: {expr}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Json(e) => Some(e),
            Self::Yaml(e) => Some(e),
            Self::Format(_) | Self::Promql { .. } => None,
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::Json(e)
    }
}

impl From<yaml_rust2::ScanError> for Error {
    fn from(e: yaml_rust2::ScanError) -> Self {
        Self::Yaml(e)
    }
}
