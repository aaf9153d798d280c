//! Terminal input on its own thread: crossterm's reads block, and the run
//! loop is a single-threaded tokio runtime that must not.
use std::{thread, time::Duration};

use crossterm::event::{self, Event};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// How long a read waits before checking whether anyone still listens.
const POLL: Duration = Duration::from_millis(200);

/// Reads terminal events on a dedicated thread and forwards them. The
/// thread ends when the receiver is dropped (noticed within `POLL`) or
/// when reading fails; the receiver then yields `None`.
pub fn spawn_input() -> UnboundedReceiver<Event> {
    let (tx, rx) = unbounded_channel();
    let spawned = thread::Builder::new()
        .name("tracer-tui-input".into())
        .spawn(move || loop {
            match event::poll(POLL) {
                Ok(true) => match event::read() {
                    Ok(ev) => {
                        if tx.send(ev).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                },
                Ok(false) => {
                    if tx.is_closed() {
                        return;
                    }
                }
                Err(_) => return,
            }
        });
    // Detached: the thread ends by itself, as above. If it could not be
    // started, the sender is already gone and the receiver reports the end
    // of input: the TUI still updates, it just takes no keys.
    drop(spawned);
    rx
}
