//! Clocks. The rules take time as an argument; the service reads it for the
//! steps it issues itself. A [`SettableClock`] reads real time until set,
//! then the instant it was set to (the app's development clock, examples).

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

/// Where the library reads the time for the steps it issues itself.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Real time, unless set to a fixed instant.
#[derive(Clone, Default)]
pub struct SettableClock(Arc<RwLock<Option<DateTime<Utc>>>>);

impl SettableClock {
    /// Real time, until [`SettableClock::set`] fixes it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fixed at `at`.
    pub fn fixed(at: DateTime<Utc>) -> Self {
        let clock = Self::default();
        clock.set(Some(at));
        clock
    }

    /// `Some(t)`: read `t` from now on; `None`: back to real time.
    pub fn set(&self, at: Option<DateTime<Utc>>) {
        *self.0.write().expect("clock poisoned") = at;
    }

    /// The instant set, or real time if none is.
    pub fn now(&self) -> DateTime<Utc> {
        self.0
            .read()
            .expect("clock poisoned")
            .unwrap_or_else(Utc::now)
    }

    /// This clock as the service's [`Clock`].
    pub fn as_clock(&self) -> Clock {
        let this = self.clone();
        Arc::new(move || this.now())
    }
}
