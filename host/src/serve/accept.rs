//! Accepting connections without spinning: when the process runs out of file descriptors
//! (`EMFILE`/`ENFILE`) or kernel memory, the loop sheds an idle connection if there is one and
//! backs off otherwise, and says so once per episode instead of once per attempt.

use super::conn::Conns;
use std::io;
use std::time::{Duration, Instant};

/// Whether an `accept` error means the process or system is out of a resource (retrying at
/// once will fail again) rather than one connection having gone away.
pub fn is_exhaustion(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// One episode of failed accepts: logged when it starts and when it ends (after [`QUIET`]
/// without a failure).
#[derive(Default)]
pub struct Backoff {
    /// Start of the episode, failures in it, last failure.
    episode: Option<(Instant, u64, Instant)>,
    delay: Duration,
}

/// Time without a failed accept that ends an episode.
pub const QUIET: Duration = Duration::from_secs(1);

const FIRST_DELAY: Duration = Duration::from_millis(5);
/// The connection limit is never lowered below this.
const MIN_LIMIT: usize = 16;
/// Idle connections shed at once when out of descriptors (nginx drains 32).
const SHED_BATCH: usize = 16;
const MAX_DELAY: Duration = Duration::from_millis(500);

impl Backoff {
    /// Handles a failed accept: returns how long to wait before the next attempt.
    pub fn failed(&mut self, e: &io::Error, conns: &Conns) -> Duration {
        let exhausted = is_exhaustion(e);
        // Out of descriptors with this many connections open: hold a tenth fewer from now on
        // (never fewer than MIN_LIMIT), so requests (files, instance memory) keep descriptors to
        // work with. With few connections open, something else holds the descriptors: the limit
        // stays.
        let open = conns.len();
        let limit = match exhausted {
            true if open >= MIN_LIMIT => Some(conns.lower_limit((open - open / 10).max(MIN_LIMIT))),
            true => Some(conns.limit()),
            false => None,
        };
        match &mut self.episode {
            Some((_, n, last)) => {
                *n += 1;
                *last = Instant::now();
            }
            None => {
                self.episode = Some((Instant::now(), 1, Instant::now()));
                self.delay = FIRST_DELAY;
                match limit {
                    Some(l) => eprintln!(
                        "artifact serve: cannot accept connections: {e}; connection limit lowered to {l}, shedding idle \
                         connections and backing off (set --max-connections or raise the file limit)"
                    ),
                    None => eprintln!("artifact serve: accept failed: {e}; retrying"),
                }
            }
        }
        // Closing idle connections frees descriptors for those waiting: retry soon.
        if exhausted && (0..SHED_BATCH).filter(|_| conns.shed_oldest_idle()).count() > 0 {
            return Duration::from_millis(1);
        }
        let d = self.delay;
        self.delay = (self.delay * 2).min(MAX_DELAY);
        d
    }

    /// Records a successful accept, closing an episode that has been quiet for [`QUIET`].
    pub fn succeeded(&mut self) {
        if self.episode.is_some_and(|(_, _, last)| last.elapsed() < QUIET) {
            self.delay = FIRST_DELAY;
            return;
        }
        if let Some((since, n, _)) = self.episode.take() {
            eprintln!(
                "artifact serve: accepting again after {n} failed attempt{} in {:.1}s",
                if n == 1 { "" } else { "s" },
                since.elapsed().as_secs_f64()
            );
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_episode_and_bounded_delay() {
        let conns = std::sync::Arc::new(Conns::new(100));
        let _open: Vec<_> = (0..50).map(|_| conns.register()).collect();
        let mut b = Backoff::default();
        let e = io::Error::from_raw_os_error(libc::EMFILE);
        assert!(is_exhaustion(&e));
        assert!(!is_exhaustion(&io::Error::from_raw_os_error(libc::ECONNABORTED)));
        let delays: Vec<Duration> = (0..20).map(|_| b.failed(&e, &conns)).collect();
        assert_eq!(delays[0], FIRST_DELAY);
        assert_eq!(conns.limit(), 45, "the limit drops below what the system could hold");
        // Out of descriptors with few connections open: the limit stays.
        let few = std::sync::Arc::new(Conns::new(100));
        let _two: Vec<_> = (0..2).map(|_| few.register()).collect();
        Backoff::default().failed(&e, &few);
        assert_eq!(few.limit(), 100);
        assert!(delays.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*delays.last().unwrap(), MAX_DELAY);
        assert_eq!(b.episode.map(|(_, n, _)| n), Some(20));
        // A success right after a failure does not end the episode (no line per success).
        b.succeeded();
        assert!(b.episode.is_some());
        assert_eq!(b.failed(&e, &conns), FIRST_DELAY, "the delay starts over after a success");
        assert_eq!(b.episode.map(|(_, n, _)| n), Some(21));
        b.episode.as_mut().unwrap().2 -= QUIET;
        b.succeeded();
        assert!(b.episode.is_none());
        assert_eq!(b.failed(&e, &conns), FIRST_DELAY, "a new episode starts over");
    }
}
