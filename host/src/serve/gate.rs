//! Admission to component instances: at most `instances` requests run at once; others wait in
//! a bounded queue for a bounded time and are then answered `503` (the caller's job), never
//! dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a request was not admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The queue already holds its maximum.
    QueueFull,
    /// No instance became free within the queue timeout.
    TimedOut,
}

pub struct Gate {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    max_wait: Duration,
}

impl Gate {
    pub fn new(instances: usize, max_waiting: usize, max_wait: Duration) -> Gate {
        Gate { slots: Arc::new(Semaphore::new(instances.max(1))), waiting: AtomicUsize::new(0), max_waiting, max_wait }
    }

    /// An instance slot, held until the permit is dropped.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, Refused> {
        if let Ok(p) = self.slots.clone().try_acquire_owned() {
            return Ok(p);
        }
        // Counted while waiting, and uncounted however the wait ends: also when the caller gives
        // up (a client that disconnects while queued drops this future).
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let waiting = Waiting(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            return Err(Refused::QueueFull);
        }
        let r = tokio::time::timeout(self.max_wait, self.slots.clone().acquire_owned()).await;
        drop(waiting);
        match r {
            Ok(Ok(p)) => Ok(p),
            _ => Err(Refused::TimedOut),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_queue_then_refusal() {
        let g = Arc::new(Gate::new(2, 1, Duration::from_millis(200)));
        let a = g.enter().await.unwrap();
        let _b = g.enter().await.unwrap();
        // One may wait; a second waiter is refused at once.
        let waiter = tokio::spawn({
            let g = g.clone();
            async move { g.enter().await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(g.enter().await.err(), Some(Refused::QueueFull));
        drop(a);
        assert_eq!(waiter.await.unwrap(), Ok(()), "a freed slot goes to the waiter");
        // Nobody frees a slot: the waiter gives up after the timeout.
        let _c = g.enter().await.unwrap();
        assert_eq!(g.enter().await.err(), Some(Refused::TimedOut));
        // A waiter that is dropped (its client went away) gives its place in the queue back.
        for _ in 0..3 {
            let abandoned = tokio::spawn({
                let g = g.clone();
                async move { g.enter().await.map(|_| ()) }
            });
            tokio::time::sleep(Duration::from_millis(20)).await;
            abandoned.abort();
            let _ = abandoned.await;
        }
        assert_eq!(g.waiting.load(Ordering::Acquire), 0);
        assert_eq!(g.enter().await.err(), Some(Refused::TimedOut), "the queue still has room");
    }
}
