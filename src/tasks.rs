//! The service's background tasks, supervised together: each is started with the one stop
//! signal, and at shutdown they are told to stop and awaited (before the database closes), so
//! that none is cut off halfway through a round.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default)]
pub struct Tasks {
    stop: CancellationToken,
    running: JoinSet<()>,
}

impl Tasks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts `task`, which must return soon after the signal it is given is cancelled.
    pub fn spawn<F, Fut>(&mut self, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.running.spawn(task(self.stop.clone()));
    }

    /// Starts `round` now and then every `interval` (after `interval` first, with `delay_first`),
    /// until stopped. A round under way is finished before the task stops.
    pub fn every<F, Fut>(&mut self, interval: Duration, delay_first: bool, mut round: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        self.spawn(move |stop| async move {
            if delay_first && sleep_or_stop(interval, &stop).await {
                return;
            }
            loop {
                round().await;
                if sleep_or_stop(interval, &stop).await {
                    return;
                }
            }
        });
    }

    /// Tells every task to stop and waits for them, at most `grace`; what is still running then
    /// is aborted.
    pub async fn stop(mut self, grace: Duration) {
        self.stop.cancel();
        let all_done = async { while self.running.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all_done).await.is_err() {
            tracing::warn!(
                left = self.running.len(),
                "background tasks did not stop in time; aborting them"
            );
            self.running.shutdown().await;
        }
    }
}

/// Sleeps `interval`; true when stopped meanwhile.
async fn sleep_or_stop(interval: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(interval) => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tasks_run_every_interval_and_stop_together_after_their_round() {
        let rounds = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let mut tasks = Tasks::new();
        let counted = rounds.clone();
        tasks.every(Duration::from_secs(10), false, move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        let done = finished.clone();
        tasks.spawn(move |stop| async move {
            stop.cancelled().await;
            // Cleanup after the signal still runs to its end.
            tokio::time::sleep(Duration::from_millis(50)).await;
            done.fetch_add(1, Ordering::SeqCst);
        });
        tokio::time::sleep(Duration::from_secs(25)).await;
        assert_eq!(rounds.load(Ordering::SeqCst), 3, "at 0, 10 and 20 s");
        tasks.stop(Duration::from_secs(1)).await;
        assert_eq!(finished.load(Ordering::SeqCst), 1, "awaited, not cut off");
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(rounds.load(Ordering::SeqCst), 3, "no round after the stop");
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_ignores_the_signal_is_aborted_after_the_grace_period() {
        let mut tasks = Tasks::new();
        tasks.spawn(|_| std::future::pending());
        let started = tokio::time::Instant::now();
        tasks.stop(Duration::from_secs(2)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }
}
