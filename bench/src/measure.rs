//! Adaptive timing: run a case for a time budget (at least a few iterations), keep every sample.

use std::time::{Duration, Instant};

/// Samples of one case, sorted ascending.
pub struct Samples {
    pub sorted: Vec<Duration>,
}

impl Samples {
    pub fn median(&self) -> Duration {
        self.sorted[self.sorted.len() / 2]
    }
    /// Nearest-rank percentile (`p` in 0..=100).
    pub fn pct(&self, p: f64) -> Duration {
        let n = self.sorted.len();
        let i = ((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1;
        self.sorted[i]
    }
    pub fn p99(&self) -> Duration {
        self.pct(99.0)
    }
}

/// Runs `f` repeatedly for `budget` (at least `min_iters` times, at most 2,000,000), after a
/// short warm-up, timing each call.
pub fn run<T>(budget: Duration, min_iters: usize, mut f: impl FnMut() -> T) -> Samples {
    let warm = Instant::now();
    for _ in 0..3 {
        std::hint::black_box(f());
        if warm.elapsed() > budget / 4 {
            break;
        }
    }
    let mut v = Vec::new();
    let start = Instant::now();
    while (v.len() < min_iters || start.elapsed() < budget) && v.len() < 2_000_000 {
        let t = Instant::now();
        std::hint::black_box(f());
        v.push(t.elapsed());
    }
    v.sort_unstable();
    Samples { sorted: v }
}

/// Runs two cases interleaved in rounds (a, b, a, b, …) so that noise from other processes on a
/// shared machine hits both alike. Each round runs each case for `budget / rounds`.
pub fn pair<A, B>(budget: Duration, min_iters: usize, mut a: impl FnMut() -> A, mut b: impl FnMut() -> B) -> (Samples, Samples) {
    const ROUNDS: u32 = 4;
    let per = budget / (2 * ROUNDS);
    let per_min = min_iters.div_ceil(ROUNDS as usize).max(1);
    let (mut va, mut vb) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        va.extend(run(per, per_min, &mut a).sorted);
        vb.extend(run(per, per_min, &mut b).sorted);
    }
    va.sort_unstable();
    vb.sort_unstable();
    (Samples { sorted: va }, Samples { sorted: vb })
}

pub fn fmt_dur(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// MB/s (10^6 bytes per second) of moving `bytes` in `d`.
pub fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

pub fn fmt_size(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{} GiB", n >> 30)
    } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

/// Deterministic incompressible bytes (xorshift64*).
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        v.extend_from_slice(&s.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    v.truncate(n);
    v
}

/// Deterministic JSON-lines text that compresses roughly like real workflow results (~4-6×).
pub fn text_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    let mut v = Vec::with_capacity(n + 128);
    let mut i = 0u64;
    while v.len() < n {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        let r = s.wrapping_mul(0x2545_f491_4f6c_dd1d);
        v.extend_from_slice(
            format!(
                "{{\"row\":{i},\"ticker\":\"T{:04}\",\"price\":{}.{:02},\"volume\":{},\"ok\":{}}}\n",
                r % 5000,
                (r >> 16) % 1000,
                (r >> 32) % 100,
                (r >> 40) % 100000,
                r & 1 == 0
            )
            .as_bytes(),
        );
        i += 1;
    }
    v.truncate(n);
    v
}
