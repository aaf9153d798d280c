//! Keys → actions. Pure, so every binding is unit-tested without a
//! terminal; what an action does depends on the app state (see app.rs).
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::views::View;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    ToggleHelp,
    ShowView(View),
    NextView,
    PrevView,
    CycleSort,
    ReverseSort,
    TogglePause,
    /// `/`: start typing a filter.
    StartFilter,
    FilterChar(char),
    FilterBackspace,
    /// Enter while typing.
    ApplyFilter,
    /// Esc: closes the innermost thing open (filter prompt, help,
    /// drill-down), else clears the filter.
    Back,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    /// Enter: drill into the selected row.
    Open,
    Flamegraph,
}

/// `typing` is true while a filter is being typed: then printable keys are
/// text, not commands.
pub fn map_key(key: KeyEvent, typing: bool) -> Option<Action> {
    // Terminals with the kitty protocol also report releases; act once.
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    // Raw mode turns Ctrl-C into a key: it must always quit, even mid-filter.
    if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
        return Some(Action::Quit);
    }
    if typing {
        return match key.code {
            KeyCode::Enter => Some(Action::ApplyFilter),
            KeyCode::Esc => Some(Action::Back),
            KeyCode::Backspace => Some(Action::FilterBackspace),
            KeyCode::Char(c) if !ctrl => Some(Action::FilterChar(c)),
            _ => None,
        };
    }
    let action = match key.code {
        KeyCode::Char(_) if ctrl => return None,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char(c @ '1'..='7') => Action::ShowView(View::ALL[c as usize - '1' as usize]),
        KeyCode::Tab => Action::NextView,
        KeyCode::BackTab => Action::PrevView,
        KeyCode::Char('s') => Action::CycleSort,
        KeyCode::Char('r') => Action::ReverseSort,
        KeyCode::Char('p') => Action::TogglePause,
        KeyCode::Char('/') => Action::StartFilter,
        KeyCode::Esc => Action::Back,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Home,
        KeyCode::End | KeyCode::Char('G') => Action::End,
        KeyCode::Enter => Action::Open,
        KeyCode::Char('f') => Action::Flamegraph,
        _ => return None,
    };
    Some(action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventState;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ch(c: char) -> KeyEvent {
        key(KeyCode::Char(c))
    }

    #[test]
    fn commands() {
        assert_eq!(map_key(ch('q'), false), Some(Action::Quit));
        assert_eq!(map_key(ch('?'), false), Some(Action::ToggleHelp));
        assert_eq!(map_key(ch('s'), false), Some(Action::CycleSort));
        assert_eq!(map_key(ch('r'), false), Some(Action::ReverseSort));
        assert_eq!(map_key(ch('p'), false), Some(Action::TogglePause));
        assert_eq!(map_key(ch('/'), false), Some(Action::StartFilter));
        assert_eq!(map_key(ch('f'), false), Some(Action::Flamegraph));
        assert_eq!(map_key(key(KeyCode::Enter), false), Some(Action::Open));
        assert_eq!(map_key(key(KeyCode::Esc), false), Some(Action::Back));
        assert_eq!(map_key(key(KeyCode::Tab), false), Some(Action::NextView));
        assert_eq!(
            map_key(key(KeyCode::BackTab), false),
            Some(Action::PrevView)
        );
        assert_eq!(map_key(key(KeyCode::Up), false), Some(Action::Up));
        assert_eq!(map_key(key(KeyCode::Down), false), Some(Action::Down));
        assert_eq!(map_key(key(KeyCode::PageUp), false), Some(Action::PageUp));
        assert_eq!(
            map_key(key(KeyCode::PageDown), false),
            Some(Action::PageDown)
        );
        assert_eq!(map_key(ch('x'), false), None);
    }

    #[test]
    fn number_keys_pick_views() {
        assert_eq!(
            map_key(ch('1'), false),
            Some(Action::ShowView(View::Allocations))
        );
        assert_eq!(
            map_key(ch('2'), false),
            Some(Action::ShowView(View::Functions))
        );
        assert_eq!(
            map_key(ch('6'), false),
            Some(Action::ShowView(View::Findings))
        );
        assert_eq!(map_key(ch('7'), false), Some(Action::ShowView(View::Inuse)));
        assert_eq!(map_key(ch('8'), false), None);
    }

    #[test]
    fn ctrl_c_always_quits() {
        let c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(map_key(c, false), Some(Action::Quit));
        assert_eq!(map_key(c, true), Some(Action::Quit));
        // Other control chords are not commands.
        let s = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL);
        assert_eq!(map_key(s, false), None);
    }

    #[test]
    fn typing_a_filter_takes_printable_keys() {
        assert_eq!(map_key(ch('q'), true), Some(Action::FilterChar('q')));
        assert_eq!(map_key(ch('1'), true), Some(Action::FilterChar('1')));
        assert_eq!(
            map_key(key(KeyCode::Enter), true),
            Some(Action::ApplyFilter)
        );
        assert_eq!(map_key(key(KeyCode::Esc), true), Some(Action::Back));
        assert_eq!(
            map_key(key(KeyCode::Backspace), true),
            Some(Action::FilterBackspace)
        );
        assert_eq!(map_key(key(KeyCode::Up), true), None);
    }

    #[test]
    fn releases_are_ignored() {
        let mut k = ch('q');
        k.kind = KeyEventKind::Release;
        k.state = KeyEventState::NONE;
        assert_eq!(map_key(k, false), None);
        k.kind = KeyEventKind::Repeat;
        assert_eq!(map_key(k, false), Some(Action::Quit));
    }
}
