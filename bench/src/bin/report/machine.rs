//! What the machine is, and how busy other processes kept it.

use std::process::Command;

/// One line: CPU model, cores, kernel, libc and compiler.
pub(crate) fn describe() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let kernel = read_first_line("/proc/sys/kernel/osrelease").unwrap_or_default();
    let first = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.lines().next().map(str::to_owned))
            .unwrap_or_default()
    };
    let libc = first("getconf", &["GNU_LIBC_VERSION"]);
    let rustc = first("rustc", &["-V"]);
    format!("Machine: {cpu}, {cores} cores, Linux {kernel}, {libc}, {rustc}.")
}

/// Total and idle jiffies of the machine, and the CPU time of this process's children.
#[derive(Clone, Copy)]
pub(crate) struct CpuTimes {
    busy: f64,
    total: f64,
    children: f64,
}

impl CpuTimes {
    pub(crate) fn read() -> Option<Self> {
        let stat = read_first_line("/proc/stat")?;
        let v: Vec<f64> = stat
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        let total: f64 = v.iter().sum();
        let idle = v.get(3)? + v.get(4)?;
        // Our children's user+system time, in the same unit as /proc/stat (USER_HZ = 100).
        let me = std::fs::read_to_string("/proc/self/stat").ok()?;
        let fields: Vec<&str> = me.rsplit(')').next()?.split_whitespace().collect();
        let children =
            fields.get(13)?.parse::<f64>().ok()? + fields.get(14)?.parse::<f64>().ok()?;
        Some(Self {
            busy: total - idle,
            total,
            children,
        })
    }
}

/// How much CPU processes other than the benchmark used meanwhile, as a sentence.
pub(crate) fn others_busy(before: Option<CpuTimes>, after: Option<CpuTimes>) -> String {
    let (Some(b), Some(a)) = (before, after) else {
        return "CPU use of other processes unknown".to_owned();
    };
    let total = a.total - b.total;
    if total <= 0.0 {
        return "CPU use of other processes unknown".to_owned();
    }
    let others = ((a.busy - b.busy) - (a.children - b.children)).max(0.0);
    format!(
        "other processes kept {:.0}% of the machine's CPU time busy meanwhile",
        others / total * 100.0
    )
}

/// The 1-, 5- and 15-minute load averages.
pub(crate) fn load_average() -> Option<String> {
    let line = read_first_line("/proc/loadavg")?;
    Some(
        line.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn read_first_line(path: &str) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    Some(s.lines().next()?.trim().to_owned())
}
