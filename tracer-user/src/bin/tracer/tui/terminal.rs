//! Taking over the terminal and, whatever happens, giving it back: a shell
//! left in raw mode on the alternate screen is unusable.
use std::{
    io::{self, stdout, IsTerminal},
    sync::{
        atomic::{AtomicBool, Ordering},
        Once,
    },
};

use crossterm::{
    cursor::{Hide, Show},
    execute,
    terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen},
};

/// Whether the terminal is ours. Checked by both the guard and the panic
/// hook, so the terminal is restored exactly once (a second "leave the
/// alternate screen" would garble the shell's screen).
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Raw mode + alternate screen + hidden cursor while alive.
pub struct TerminalGuard(());

impl TerminalGuard {
    pub fn enter() -> io::Result<TerminalGuard> {
        // Drawn into a pipe or file, the screen would be escape codes.
        if !stdout().is_terminal() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the TUI needs a terminal on stdout (use --format text or json)",
            ));
        }
        install_panic_hook();
        // Built first: if a step below fails, dropping it undoes the rest.
        ACTIVE.store(true, Ordering::SeqCst);
        let guard = TerminalGuard(());
        enable_raw_mode()?;
        execute!(stdout(), EnterAlternateScreen, Hide)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        // Best effort: there is nobody left to report a failure to.
        let _ = disable_raw_mode();
        let _ = execute!(stdout(), LeaveAlternateScreen, Show);
    }
}

/// A panic restores the terminal before the message is printed, or the
/// message would land on the alternate screen and vanish. The hook runs
/// before unwinding, so before the guard's Drop. Installed once per
/// process; the previous hook still runs after.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
