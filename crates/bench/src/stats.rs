//! Driving an operation from N concurrent tasks for a while, and what came of
//! it: operations per second and latency percentiles.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why one operation did not count.
#[derive(Debug)]
pub enum OpError {
    /// It failed: counted as an error, the first one kept for the report.
    Failed(String),
    /// The scenario ran out of prepared work (its task stops).
    Exhausted,
}

impl<E: std::fmt::Display> From<E> for OpError {
    fn from(e: E) -> Self {
        Self::Failed(e.to_string())
    }
}

/// The outcome of one run.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub ops: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// Latency of every successful operation, sorted.
    pub latencies: Vec<Duration>,
    /// The rate of each slice merged into this sample (see [`Sample::rate`]).
    pub slice_rates: Vec<f64>,
    /// A task ran out of prepared work before the time was up: the rate
    /// counts time without work, and is no measure.
    pub exhausted: bool,
}

impl Sample {
    /// Successful operations per second of wall time; for a measurement
    /// taken in slices, the median of the slices' rates, so that a slice that
    /// fell on a busy spell of the shared machine does not move it.
    pub fn rate(&self) -> f64 {
        if self.slice_rates.len() > 1 {
            let mut rates = self.slice_rates.clone();
            rates.sort_by(f64::total_cmp);
            let mid = rates.len() / 2;
            return if rates.len() % 2 == 1 {
                rates[mid]
            } else {
                (rates[mid - 1] + rates[mid]) / 2.0
            };
        }
        self.overall_rate()
    }

    /// Successful operations over the whole wall time.
    pub fn overall_rate(&self) -> f64 {
        if self.elapsed.is_zero() {
            return 0.0;
        }
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    /// The `q` quantile (0..=1) of the latencies, nearest rank.
    pub fn quantile(&self, q: f64) -> Duration {
        quantile(&self.latencies, q)
    }

    pub fn mean(&self) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        self.latencies.iter().sum::<Duration>() / self.latencies.len() as u32
    }

    /// Adds another slice of the same measurement.
    pub fn merge(&mut self, other: Sample) {
        self.slice_rates.push(other.overall_rate());
        self.ops += other.ops;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.exhausted |= other.exhausted;
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
        self.latencies.sort_unstable();
    }

    /// A sample of one timed operation of `n` items (a catch-up, a rebuild).
    pub fn single(n: u64, elapsed: Duration) -> Self {
        Self {
            ops: n,
            elapsed,
            latencies: vec![elapsed],
            ..Self::default()
        }
    }
}

/// Nearest-rank quantile of sorted `values`.
pub fn quantile(values: &[Duration], q: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

/// Runs `op` from `concurrency` tasks, each starting its next operation as
/// soon as its previous one ends, until `duration` has passed (or every task
/// ran out of work). Wall time counts until the last operation ends.
pub async fn run<F, Fut>(concurrency: usize, duration: Duration, op: F) -> Sample
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), OpError>> + Send + 'static,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut part = Sample::default();
                while Instant::now() < deadline {
                    let began = Instant::now();
                    match op().await {
                        Ok(()) => {
                            part.ops += 1;
                            part.latencies.push(began.elapsed());
                        }
                        Err(OpError::Failed(e)) => {
                            part.errors += 1;
                            part.first_error.get_or_insert(e);
                        }
                        Err(OpError::Exhausted) => {
                            part.exhausted = true;
                            break;
                        }
                    }
                }
                part
            })
        })
        .collect();
    let mut all = Sample::default();
    for task in tasks {
        let part = task.await.expect("a load task panicked");
        all.ops += part.ops;
        all.errors += part.errors;
        all.exhausted |= part.exhausted;
        if all.first_error.is_none() {
            all.first_error = part.first_error;
        }
        all.latencies.extend(part.latencies);
    }
    all.elapsed = start.elapsed();
    all.latencies.sort_unstable();
    all
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A measurement whose prepared work runs out before its time is up
    /// says so, and keeps saying so when merged with slices that did not.
    #[tokio::test]
    async fn running_out_of_work_is_marked() {
        let left = Arc::new(AtomicUsize::new(3));
        let out = run(2, Duration::from_millis(200), move || {
            let left = left.clone();
            async move {
                left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .map(|_| ())
                    .map_err(|_| OpError::Exhausted)
            }
        })
        .await;
        assert_eq!(out.ops, 3);
        assert!(out.exhausted);
        let enough = run(1, Duration::from_millis(20), || async { Ok(()) }).await;
        assert!(!enough.exhausted);
        let mut merged = enough;
        merged.merge(out);
        assert!(merged.exhausted);
    }
}
