//! Progress bars for long transfers (`upload`, and `put` / `get -o` of large bodies): drawn on
//! stderr, only when stderr is a terminal and `--quiet` is not given, so stdout stays exactly
//! what the command prints (JSON that a pipe can parse).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Read, Write};

/// `put` and `get -o` show progress only for bodies at least this large.
pub const LARGE: u64 = 16 << 20;

/// Whether bars may be drawn at all: stderr is a terminal and `--quiet` is not given. Check it
/// before doing any work only a bar needs.
pub fn enabled(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A byte bar of `total` bytes on stderr, or `None` when it must not be drawn.
pub fn bar(total: u64, quiet: bool) -> Option<ProgressBar> {
    if !enabled(quiet) {
        return None;
    }
    let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    b.set_style(
        ProgressStyle::with_template("[{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    Some(b)
}

/// A bar for one body of `total` bytes, when it is large enough to be worth one.
pub fn for_body(total: u64, quiet: bool) -> Option<ProgressBar> {
    if total < LARGE {
        return None;
    }
    bar(total, quiet)
}

/// Advances a bar by the bytes read through it.
pub struct Reading<'a, R> {
    pub inner: R,
    pub bar: Option<&'a ProgressBar>,
}

impl<R: Read> Read for Reading<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(b) = self.bar {
            b.inc(n as u64);
        }
        Ok(n)
    }
}

/// Advances a bar by the bytes written through it.
pub struct Writing<'a, W> {
    pub inner: W,
    pub bar: Option<&'a ProgressBar>,
}

impl<W: Write> Write for Writing<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(b) = self.bar {
            b.inc(n as u64);
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
