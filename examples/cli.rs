//! What the long-running examples (`demo`, `serve`) share: the `--port` and `--duration` flags,
//! and the main loop that runs until Ctrl-C or the duration is up. Each example includes it with
//! `#[path = "cli.rs"] mod cli;`.

use std::ops::ControlFlow;
use std::time::Duration;

/// The flags every long-running example takes.
pub(crate) struct Common {
    /// `--port PORT`: where `/metrics` listens (0 picks a free port).
    pub(crate) port: u16,
    /// `--duration SECS`: stop after this long (default: on Ctrl-C only).
    pub(crate) duration: Option<Duration>,
}

/// Parses the command line: `--port`, `--duration` and `--help` here, every other flag by
/// `other(flag, value)`, where `value()` takes the flag's value; `other` returns `Ok(false)`
/// for a flag it does not know. `Err` carries the message to print (the usage for `--help`).
pub(crate) fn parse_args(
    usage: &str,
    default_port: u16,
    mut other: impl FnMut(&str, &mut dyn FnMut() -> Result<String, String>) -> Result<bool, String>,
) -> Result<Common, String> {
    let mut common = Common {
        port: default_port,
        duration: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => {
                let v = value()?;
                common.port = v.parse().map_err(|e| format!("--port {v:?}: {e}"))?;
            }
            "--duration" => common.duration = Some(seconds("--duration", &value()?)?),
            "-h" | "--help" => return Err(usage.to_owned()),
            flag => {
                if !other(flag, &mut value)? {
                    return Err(format!("unknown argument {flag:?}\n{usage}"));
                }
            }
        }
    }
    Ok(common)
}

/// The value of a flag in seconds, e.g. `--every 2.5`.
pub(crate) fn seconds(flag: &str, v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .map_err(|e| e.to_string())
        .and_then(|s| Duration::try_from_secs_f64(s).map_err(|e| e.to_string()))
        .map_err(|e| format!("{flag} {v:?}: {e}"))
}

/// Runs until Ctrl-C, until `duration` is up, or until `tick` (called every `period`, first
/// after one period) breaks, e.g. because a worker thread panicked.
pub(crate) fn run_until_stopped(
    duration: Option<Duration>,
    period: Duration,
    mut tick: impl FnMut() -> ControlFlow<()>,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let deadline = async {
            match duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tokio::select! {
                _ = &mut ctrl_c => {
                    eprintln!("interrupted");
                    break;
                }
                () = &mut deadline => break,
                _ = ticks.tick() => if tick().is_break() {
                    break;
                },
            }
        }
    });
    Ok(())
}
