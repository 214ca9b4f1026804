//! Backend calls that may wait long (S3 and PostgreSQL on the network, a SQLite write on the
//! database's lock), made from wherever the component's imports run: plain threads in the CLI,
//! tokio worker threads in `artifact serve` and the console.
//!
//! Such a call blocks its thread until the server answers or the lock comes free (up to the
//! client's or the busy timeout). On a worker of the server's multi-threaded runtime that thread
//! also drives every other connection scheduled on it, so a stalled backend would stall requests
//! that never touch it: with two workers, two reads waiting on a hung S3 endpoint would stop the
//! server accepting. [`leave_runtime`] hands the worker's other tasks to another thread first
//! (`tokio::task::block_in_place`), so only the requests that wait on the backend wait. Calls that
//! never wait long (the filesystem, SQLite reads on the WAL read pool) are made in place: they
//! take microseconds, and handing off a worker costs more.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `f`, which may block on the network, without holding up the async runtime it is called
/// from: on a multi-threaded runtime's worker, the worker's other tasks move to another thread
/// while `f` runs (and `f` may drive a runtime of its own, as the `postgres` client does); on a
/// current-thread runtime, `f` runs on a scoped thread (blocking it there would stop that runtime,
/// and a client with its own runtime panics inside another); outside any runtime, `f` runs here.
pub fn leave_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|s| match s.spawn(f).join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        }),
        Err(_) => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn outside_a_runtime_it_runs_in_place() {
        let here = std::thread::current().id();
        assert_eq!(leave_runtime(|| std::thread::current().id()), here);
    }

    #[test]
    fn on_a_current_thread_runtime_it_runs_elsewhere_and_may_drive_a_runtime_of_its_own() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let outer = std::thread::current().id();
        assert_ne!(rt.block_on(async { leave_runtime(|| std::thread::current().id()) }), outer);
        let v = rt.block_on(async {
            leave_runtime(|| tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async { 7 }))
        });
        assert_eq!(v, 7);
    }

    /// One worker: a task blocked in a call must not keep another task from running. Without
    /// the hand-off the second task would wait the whole three seconds.
    #[test]
    fn a_blocked_call_does_not_hold_up_the_workers_other_tasks() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        rt.block_on(async {
            let start = Instant::now();
            let blocked = tokio::spawn(async { leave_runtime(|| std::thread::sleep(Duration::from_secs(3))) });
            // Let the blocking task start on the only worker first.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let other = tokio::spawn(async move {
                tx.send(Instant::now()).unwrap();
            });
            other.await.unwrap();
            let ran = rx.recv().unwrap().duration_since(start);
            assert!(ran < Duration::from_secs(2), "the other task ran only after {ran:?}");
            blocked.await.unwrap();
            // A nested client runtime is allowed inside the hand-off, as the postgres client needs.
            let v = tokio::spawn(async {
                leave_runtime(|| tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async { 7 }))
            });
            assert_eq!(v.await.unwrap(), 7);
        });
    }
}
