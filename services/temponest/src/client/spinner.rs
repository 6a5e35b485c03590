//! A progress line on stderr for waits longer than a moment: it appears only after 300 ms,
//! only when stderr is a terminal, and is erased (synchronously, so it never erases text
//! printed after it) when the wait ends.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const FRAMES: &[&str] = &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

#[derive(Default)]
struct State {
    stopped: bool,
    drawn: bool,
}

/// A running spinner; [`Spinner::stop`] (or dropping it) erases it.
pub struct Spinner {
    state: Option<Arc<Mutex<State>>>,
}

impl Spinner {
    /// Starts showing `message` (nothing happens when stderr is not a terminal).
    pub fn start(message: &str) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self { state: None };
        }
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let message = message.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            for frame in 0.. {
                tick.tick().await;
                let mut state = shared.lock().expect("spinner state");
                if state.stopped {
                    break;
                }
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r{} {message}", FRAMES[frame % FRAMES.len()]);
                let _ = err.flush();
                state.drawn = true;
            }
        });
        Self { state: Some(state) }
    }

    /// Stops and erases the spinner.
    pub fn stop(&mut self) {
        if let Some(state) = self.state.take() {
            let mut state = state.lock().expect("spinner state");
            state.stopped = true;
            if state.drawn {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K");
                let _ = err.flush();
            }
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop();
    }
}
