//! Runs the dispatcher and the sender as background tasks (placeholder until the engine lands).

use crate::state::AppState;

/// The running engine; [`Engine::shutdown`] stops it.
pub struct Engine {
    _state: AppState,
}

/// Starts the dispatcher and the sender.
pub fn start(state: AppState) -> Engine {
    Engine { _state: state }
}

impl Engine {
    /// Stops claiming work, finishes or releases in-flight attempts and returns.
    pub async fn shutdown(self) {}
}
