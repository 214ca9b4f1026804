//! `cargo run --release -p artifact-bench [-- --quick] [-- --only 1,2,6]`: runs the scenarios of
//! issue 9 side by side and prints one markdown table. See benches/README.md.

mod cli;
mod engine;
mod measure;
mod metadata;
mod plugin;
mod size;

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Outcome of a row against its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Miss,
    /// Reported for information; no target.
    Info,
    /// The thing to measure does not exist yet (or a tool is missing).
    Pending,
}

/// One line of the table.
pub struct Row {
    pub scenario: String,
    pub ours: String,
    pub reference: String,
    pub ratio: String,
    pub target: String,
    pub verdict: Verdict,
}

impl Row {
    pub fn new(scenario: impl Into<String>, ours: impl Into<String>, reference: impl Into<String>) -> Self {
        Row {
            scenario: scenario.into(),
            ours: ours.into(),
            reference: reference.into(),
            ratio: "—".into(),
            target: "—".into(),
            verdict: Verdict::Info,
        }
    }
    /// A ratio (ours / reference, "higher is better") checked against `min`.
    pub fn ratio_at_least(mut self, ratio: f64, min: f64, target: impl Into<String>) -> Self {
        self.ratio = format!("{ratio:.2}");
        self.target = target.into();
        self.verdict = if ratio >= min { Verdict::Pass } else { Verdict::Miss };
        self
    }
    pub fn ratio_info(mut self, ratio: f64) -> Self {
        self.ratio = format!("{ratio:.2}");
        self
    }
    pub fn check(mut self, ok: bool, target: impl Into<String>) -> Self {
        self.target = target.into();
        self.verdict = if ok { Verdict::Pass } else { Verdict::Miss };
        self
    }
    pub fn pending(mut self, target: impl Into<String>) -> Self {
        self.target = target.into();
        self.verdict = Verdict::Pending;
        self
    }
}

/// Command-line options.
pub struct Opts {
    /// Scaled-down sizes and budgets (smoke runs).
    pub quick: bool,
    /// Scenario numbers to run (all when empty).
    pub only: Vec<u32>,
    /// Time budget of one timed case.
    pub budget: Duration,
    /// Directory for reusable data (SQLite DB, compiled-code cache, scratch homes).
    pub data_dir: PathBuf,
    /// PostgreSQL URL for scenario 7 (`ARTIFACT_BENCH_POSTGRES`).
    pub postgres: Option<String>,
    /// A component to run instead of the embedded one (scenarios 1-3, 6, 7), for comparing
    /// guest builds (e.g. another opt-level) without rebuilding the host.
    pub wasm: Option<Vec<u8>>,
}

impl Opts {
    pub fn wants(&self, n: u32) -> bool {
        self.only.is_empty() || self.only.contains(&n)
    }
    /// `full` normally, `small` with `--quick`.
    pub fn size<T>(&self, full: T, small: T) -> T {
        if self.quick {
            small
        } else {
            full
        }
    }
}

const HELP: &str = "artifact-bench: side-by-side benchmarks of the artifact component (issue 9)

USAGE: bash scripts/bench.sh [OPTIONS]          (installs wrk, nginx, PostgreSQL; builds; runs)
       cargo run --release -p artifact-bench -- [OPTIONS]

OPTIONS:
  --quick            scaled-down sizes and budgets (64 MiB -> 4 MiB, 1 GiB -> 64 MiB, 1M rows -> 20k)
  --only LIST        scenarios to run, e.g. --only 1,2,6 (1 per-call, 2 get, 3 put, 4 http,
                     5 rss, 6 size, 7 metadata, 8 plugin)
  --budget-ms N      time budget of one timed case (default 1500, quick 200)
  --data-dir DIR     reusable data: 1M-row SQLite DB, code cache (default <target>/bench-data)
  --wasm FILE        run this component instead of the embedded one (scenarios 1-3, 6, 7)
  -h, --help

ENV: ARTIFACT_BENCH_POSTGRES=postgres://… (else ARTIFACT_TEST_POSTGRES, as scripts/services.sh
     prints it) adds PostgreSQL to scenario 7.";

fn default_data_dir() -> PathBuf {
    // <target>/release/artifact-bench -> <target>/bench-data
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(|t| t.join("bench-data")))
        .unwrap_or_else(|| PathBuf::from("target/bench-data"))
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        quick: false,
        only: Vec::new(),
        budget: Duration::ZERO,
        data_dir: default_data_dir(),
        postgres: std::env::var("ARTIFACT_BENCH_POSTGRES").ok().filter(|s| !s.is_empty()),
        wasm: None,
    };
    let mut budget_ms = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--only" => {
                let v = args.next().ok_or("--only needs a list")?;
                for s in v.split(',').filter(|s| !s.is_empty()) {
                    o.only.push(s.trim().parse().map_err(|_| format!("bad scenario {s:?}"))?);
                }
            }
            "--budget-ms" => {
                let v = args.next().ok_or("--budget-ms needs a number")?;
                budget_ms = Some(v.parse::<u64>().map_err(|_| format!("bad --budget-ms {v:?}"))?);
            }
            "--data-dir" => o.data_dir = args.next().ok_or("--data-dir needs a path")?.into(),
            "--wasm" => {
                let p = args.next().ok_or("--wasm needs a path")?;
                o.wasm = Some(std::fs::read(&p).map_err(|e| format!("{p}: {e}"))?);
            }
            "-h" | "--help" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n\n{HELP}")),
        }
    }
    o.budget = Duration::from_millis(budget_ms.unwrap_or(if o.quick { 200 } else { 1500 }));
    Ok(o)
}

fn print_table(rows: &[Row]) {
    println!("| # | scenario | ours | reference | ratio | target | result |");
    println!("|---|---|---|---|---|---|---|");
    for (n, r) in rows.iter().map(|r| (r.scenario.split_whitespace().next().unwrap_or(""), r)) {
        let v = match r.verdict {
            Verdict::Pass => "pass",
            Verdict::Miss => "**miss**",
            Verdict::Info => "info",
            Verdict::Pending => "pending",
        };
        let scenario = r.scenario.strip_prefix(n).unwrap_or(&r.scenario).trim();
        println!("| {n} | {scenario} | {} | {} | {} | {} | {v} |", r.ours, r.reference, r.ratio, r.target);
    }
}

type Scenario = fn(&Opts) -> Result<Vec<Row>, String>;

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let _ = std::fs::create_dir_all(&opts.data_dir);
    let scenarios: [(u32, &str, Scenario); 8] = [
        (1, "per-call overhead", engine::per_call),
        (2, "get throughput", engine::get),
        (3, "put throughput", engine::put),
        (4, "HTTP signed reads", cli::http),
        (5, "peak RSS streaming", cli::rss),
        (6, "component size", size::size),
        (7, "metadata at scale", metadata::scale),
        (8, "plugin composition cost", plugin::composition),
    ];
    let mut rows = Vec::new();
    let all = Instant::now();
    for (n, name, f) in scenarios {
        if !opts.wants(n) {
            continue;
        }
        let t = Instant::now();
        eprintln!("[bench] scenario {n}: {name} …");
        match f(&opts) {
            Ok(r) => rows.extend(r),
            Err(e) => {
                eprintln!("[bench] scenario {n} failed: {e}");
                let mut r = Row::new(format!("{n} {name}"), "error", "—");
                r.target = e.chars().take(80).collect();
                r.verdict = Verdict::Miss;
                rows.push(r);
            }
        }
        eprintln!("[bench] scenario {n} done in {:.1} s", t.elapsed().as_secs_f64());
    }
    eprintln!("[bench] all scenarios in {:.1} s", all.elapsed().as_secs_f64());
    print_table(&rows);
    if rows.iter().any(|r| r.verdict == Verdict::Miss && r.ours == "error") {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the cheap in-process scenarios once at minimal size (a smoke test, not a benchmark;
    /// get/put at MiB sizes are too slow in a debug build).
    #[test]
    fn scenarios_run_at_minimal_size() {
        let dir = std::env::temp_dir().join(format!("artifact-bench-smoke-{}", std::process::id()));
        let o = Opts { quick: true, only: vec![], budget: Duration::from_millis(1), data_dir: dir.clone(), postgres: None, wasm: None };
        for f in [engine::per_call as Scenario, size::size] {
            let rows = f(&o).expect("scenario runs");
            assert!(!rows.is_empty());
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
