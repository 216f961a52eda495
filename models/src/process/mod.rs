//! The modeled PID table: [`state::ProcTable`] (spawn, exit, kill, waitpid, PID reuse) made into
//! steps of an execution, each recorded in the words of the real call.

pub mod state;
