//! API types: request bodies (`...In`), patches, responses (`...Out`) and their validation.

pub mod agents;
pub mod budgets;
mod checks;
pub mod collaboration;
pub mod costs;
pub mod dashboard;
pub mod executions;

pub use agents::{AgentFilter, AgentIn, AgentOut, AgentPatch, AgentSpec, Known};
pub use collaboration::{CollaborationIn, SessionFilter, SessionOut, StepOut, ValidSession};
pub use executions::{
    Citation, ExecuteIn, ExecutionChangeOut, ExecutionFilter, ExecutionOut, TokensUsed,
    ValidExecute,
};
