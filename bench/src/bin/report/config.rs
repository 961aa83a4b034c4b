//! The configurations (one binary each) and the command line.

use std::path::{Path, PathBuf};

/// A configuration: its column label and its binary.
pub(crate) struct Config {
    pub(crate) label: &'static str,
    pub(crate) bin: &'static str,
    /// A crate heapster is compared with (the targets say: faster than every peer).
    pub(crate) peer: bool,
    /// An ablation stage (`heapster_bench::ablation`): shown in the ablation table only.
    pub(crate) stage: bool,
    /// Where the binary is, for `--extra` configurations.
    pub(crate) path: Option<PathBuf>,
}

pub(crate) const CONFIGS: &[Config] = &[
    Config {
        label: "System",
        bin: "system",
        peer: false,
        stage: false,
        path: None,
    },
    Config {
        label: "Heapster<System>",
        bin: "heapster-system",
        peer: false,
        stage: false,
        path: None,
    },
    Config {
        label: "Heapster<System> thread-owned",
        bin: "heapster-owned",
        peer: false,
        stage: false,
        path: None,
    },
    Config {
        label: "Heapster<System> +scoped",
        bin: "heapster-scoped",
        peer: false,
        stage: false,
        path: None,
    },
    Config {
        label: "mimalloc",
        bin: "mimalloc",
        peer: false,
        stage: false,
        path: None,
    },
    Config {
        label: "Heapster<mimalloc>",
        bin: "heapster-mimalloc",
        peer: false,
        stage: false,
        path: None,
    },
    Config {
        label: "stats_alloc",
        bin: "stats-alloc",
        peer: true,
        stage: false,
        path: None,
    },
    Config {
        label: "cap",
        bin: "cap",
        peer: true,
        stage: false,
        path: None,
    },
    Config {
        label: "cap +stats",
        bin: "cap-stats",
        peer: true,
        stage: false,
        path: None,
    },
    Config {
        label: "peak_alloc",
        bin: "peak-alloc",
        peer: true,
        stage: false,
        path: None,
    },
    Config {
        label: "heapster 0.9 full",
        bin: "heapster09-full",
        peer: true,
        stage: false,
        path: None,
    },
    Config {
        label: "heapster 0.9 default",
        bin: "heapster09-default",
        peer: true,
        stage: false,
        path: None,
    },
    Config {
        label: "stage 1: wrapper",
        bin: "stage1",
        peer: false,
        stage: true,
        path: None,
    },
    Config {
        label: "stage 2: + locked add",
        bin: "stage2",
        peer: false,
        stage: true,
        path: None,
    },
    Config {
        label: "stage 3: + size bucket",
        bin: "stage3",
        peer: false,
        stage: true,
        path: None,
    },
    Config {
        label: "stage 4: + shard",
        bin: "stage4",
        peer: false,
        stage: true,
        path: None,
    },
    Config {
        label: "stage 5: + test",
        bin: "stage5",
        peer: false,
        stage: true,
        path: None,
    },
];

/// The configuration every ratio is taken against.
pub(crate) const BASELINE: &str = "system";
/// heapster in its default (shared) mode, and in thread-owned mode.
pub(crate) const OURS: &str = "heapster-system";
pub(crate) const OURS_OWNED: &str = "heapster-owned";

/// The command line.
pub(crate) struct Options {
    pub(crate) quick: bool,
    pub(crate) rounds: usize,
    pub(crate) scale: f64,
    pub(crate) reps: usize,
    pub(crate) configs: Vec<&'static Config>,
    pub(crate) raw: Option<PathBuf>,
    pub(crate) only: Option<String>,
    pub(crate) bin_dir: PathBuf,
    pub(crate) callgrind: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench-report [--quick] [--rounds N] [--scale F] [--reps N] [--configs a,b] \
         [--raw FILE] [--only a,b] [--bin-dir DIR] [--extra LABEL=PATH] [--callgrind]\nconfigs: {}",
        CONFIGS.iter().map(|c| c.bin).collect::<Vec<_>>().join(", ")
    );
    std::process::exit(2)
}

/// Parses the command line; exits with a usage message on a bad one.
pub(crate) fn parse_args() -> Options {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let mut o = Options {
        quick: false,
        rounds: 0,
        scale: 0.0,
        reps: 0,
        configs: CONFIGS.iter().collect(),
        raw: None,
        only: None,
        bin_dir: exe.parent().map_or_else(PathBuf::new, Path::to_path_buf),
        callgrind: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--quick" => o.quick = true,
            // What `cargo bench` passes to a bench target; meaningless here.
            "--bench" => {}
            "--rounds" => o.rounds = value().parse().unwrap_or_else(|_| usage()),
            "--scale" => o.scale = value().parse().unwrap_or_else(|_| usage()),
            "--reps" => o.reps = value().parse().unwrap_or_else(|_| usage()),
            "--raw" => o.raw = Some(value().into()),
            "--only" => o.only = Some(value()),
            "--bin-dir" => o.bin_dir = value().into(),
            "--callgrind" => o.callgrind = true,
            "--extra" => {
                let v = value();
                let (label, path) = v.split_once('=').unwrap_or_else(|| usage());
                let label: &'static str = Box::leak(label.to_owned().into_boxed_str());
                o.configs.push(Box::leak(Box::new(Config {
                    label,
                    bin: label,
                    peer: false,
                    stage: false,
                    path: Some(path.into()),
                })));
            }
            "--configs" => {
                let wanted = value();
                let wanted: Vec<&str> = wanted.split(',').collect();
                o.configs
                    .retain(|c| c.path.is_some() || c.bin == BASELINE || wanted.contains(&c.bin));
                if wanted.iter().any(|w| !CONFIGS.iter().any(|c| c.bin == *w)) {
                    usage()
                }
            }
            _ => usage(),
        }
    }
    let (rounds, scale, reps) = if o.quick { (1, 0.01, 1) } else { (12, 1.0, 3) };
    if o.rounds == 0 {
        o.rounds = rounds;
    }
    if o.scale <= 0.0 {
        o.scale = scale;
    }
    if o.reps == 0 {
        o.reps = reps;
    }
    o
}

impl Options {
    /// The configurations of the main tables (not the ablation stages).
    pub(crate) fn table_configs(&self) -> Vec<&'static Config> {
        self.configs.iter().copied().filter(|c| !c.stage).collect()
    }

    /// The ablation stages measured, then heapster in shared mode.
    pub(crate) fn ablation_configs(&self) -> Vec<&'static Config> {
        let stages = self.configs.iter().copied().filter(|c| c.stage);
        stages
            .chain(self.configs.iter().copied().filter(|c| c.bin == OURS))
            .collect()
    }

    /// The header and rule of a main table whose first column is `first`.
    pub(crate) fn table_header(&self, first: &str) -> String {
        let mut header = format!("| {first} |");
        let mut rule = String::from("|---|");
        for c in self.table_configs() {
            header.push_str(&format!(" {} |", c.label));
            rule.push_str("---:|");
        }
        format!("{header}\n{rule}")
    }

    /// The binary of configuration `c`; exits when it is missing.
    pub(crate) fn binary(&self, c: &Config) -> PathBuf {
        let path = c
            .path
            .clone()
            .unwrap_or_else(|| self.bin_dir.join(format!("bench-{}", c.bin)));
        if !path.exists() {
            eprintln!(
                "bench-report: {} is missing: build with bench/run.sh",
                path.display()
            );
            std::process::exit(1)
        }
        path
    }
}
