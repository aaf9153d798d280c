//! Which allocation regimes a window has watched: per size class, the
//! rate the last allocation window saw. A class whose rate has since moved
//! [`FACTOR`] times away from it (up or down, from at least [`FLOOR`]
//! objects a second) is a regime no window watched: a window opens early
//! for it (a burst, or the quiet after one). Per class, so that a burst of
//! one class right after a burst of another is still new.
//!
//! The rates a window watched are those of the moments before it opened
//! or while it was open, whichever are higher in total
//! ([`super::attribute::Attributor::window`]): probes slow a busy target,
//! and its rate while watched alone would look like a regime the target
//! leaves as soon as the window closes.

/// Rates this many times apart are different regimes.
pub const FACTOR: f64 = 3.0;
/// Below this many objects a second a class's rate is not compared (its
/// counter moves once a span, in steps).
pub const FLOOR: f64 = 20_000.0;

#[derive(Debug, Default)]
pub struct Watched {
    /// Per class, the rate the last window watched; `None` before any
    /// window, or when the last saw nothing (then any rate is new).
    rates: Option<Vec<f64>>,
}

impl Watched {
    /// A window closed: `rates` = the classes' rates it watched;
    /// `saw_anything` = it took samples.
    pub fn closed(&mut self, rates: Vec<f64>, saw_anything: bool) {
        self.rates = saw_anything.then_some(rates);
    }

    /// Whether the classes' rates now (`recent`) are a regime no window
    /// watched.
    pub fn changed(&self, recent: &[f64]) -> bool {
        recent.iter().enumerate().any(|(i, &now)| {
            let then = self
                .rates
                .as_ref()
                .and_then(|r| r.get(i).copied())
                .unwrap_or(0.0);
            let (hi, lo) = (now.max(then), now.min(then));
            hi >= FLOOR && hi > FACTOR * lo.max(1.0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_another_class_is_new_after_a_burst() {
        let mut w = Watched::default();
        // Nothing watched yet: a busy class is new, a slow one is not.
        assert!(w.changed(&[0.0, 50_000.0]));
        assert!(!w.changed(&[0.0, 5_000.0]));
        // A window watched class 1 bursting at 10 M/s.
        w.closed(vec![0.0, 10e6], true);
        assert!(!w.changed(&[0.0, 8e6]));
        // Class 0 bursts at 5 M/s: new, though the total rate is alike.
        assert!(w.changed(&[5e6, 0.0]));
        // Class 1 drops to a steady 100 k/s: new too.
        assert!(w.changed(&[0.0, 100_000.0]));
    }

    #[test]
    fn a_window_that_saw_nothing_watched_nothing() {
        let mut w = Watched::default();
        w.closed(vec![900_000.0], false);
        assert!(w.changed(&[900_000.0]));
    }
}
