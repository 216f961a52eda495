//! # phase2-owner — one goroutine owns the client's state, commands over a channel
//!
//! Source: seed `004_d81902ba399f928a.txt`, "Long-term Fixes (Phase 2)", "1. Implement
//! Channel-Based Architecture".
//!
//! The audit's long-term design replaces the client's locks with one goroutine that owns the state:
//!
//! ```go
//! func (c *Client) stateManager() {
//!     for cmd := range c.commands {
//!         c.state.apply(cmd)
//!         c.responses <- c.state.process(cmd)
//!     }
//! }
//! ```
//!
//! The goroutines that raced in the other findings now send commands, one per websocket message:
//! the handler of session s2 records its session (finding 1), caches a tool use (finding 4) and
//! starts the agent from the permissions (finding 3); the client's read loop applies the user's
//! permission change (skip permissions off, only Read allowed, as in `permission-state`) with a
//! new session s3 and its tool use. The owner applies each command whole, in arrival order; the
//! two orders are the whole space, and every step of the owner is checked in both. The invariants are the other
//! scenarios' own, the same statics: "session history never corrupted", "no tool runs that the
//! user did not allow", "permission checks use consistent state", "every tool result finds its
//! tool use", Go's "no concurrent map writes", and the data-race detector on every field.
//!
//! It holds, race-free, in every schedule: only the owner touches the state, one command at a
//! time in the order the commands arrive, so an update cannot be seen half done, two appends
//! cannot interleave, the map has one writer, and the agent is started with the permissions in
//! force when the owner starts it. **The audit's design keeps every invariant of the findings it
//! replaces.**
//!
//! Modeling choices:
//! - The commands channel is unbounded (`channel()`): the owner serializes whatever the buffering,
//!   and a send is one step. The owner stops when the last sender is dropped (`for cmd := range
//!   c.commands` after `close`), and the end checks run after every goroutine has finished.
//! - The sketch's `c.responses <- c.state.process(cmd)` is left out: a response is not state, and
//!   whoever reads `c.responses` (the client's websocket writer) is one more goroutine, past what
//!   loom takes. One caution about it: if several goroutines each wait on the one `c.responses` for
//!   the reply to their own command, they get their own only because an unbuffered `c.commands`
//!   lets the owner take a command after the previous reply was taken; with a buffered
//!   `c.commands` a goroutine can receive another's reply. A reply channel in each command (the Go
//!   idiom `cmd.reply <- resp`) needs no such argument.
//! - Broadcasting (finding 5) is left out: its connection is written by the broadcaster, not by
//!   the client's state, and an owner for the service's client set is the same pattern again.

use super::permission_state::{ALLOWED, CONSISTENT};
use super::session_history::KEPT;
use super::tool_cache::FOUND;
use interleave::go_map::GoMap;
use interleave::process::Command as Cmd;
use interleave::sync::mpsc::{channel, Receiver};
use interleave::sync::{Arc, Shared};
use interleave::{thread, Ctx, Expect, Scenario, Source, Trace, Variant, Witness};

/// One change a command asks the state manager for.
#[derive(Clone, Debug)]
enum Op {
    AddSessionToHistory(&'static str),
    CacheToolUse(&'static str, &'static str),
    UpdatePermissions { allowed_tools: Vec<&'static str>, skip_permissions: bool },
    StartAgent,
}

/// A command: what one websocket message asks of the client's state, applied as a whole.
type Command = Vec<Op>;

/// `ClientState`: accessed only by the owner goroutine.
struct ClientState {
    claude_session_history: Shared<Vec<&'static str>>,
    allowed_tools: Shared<Vec<&'static str>>,
    skip_permissions: Shared<bool>,
    active_process: Shared<Option<String>>,
    tool_use_cache: GoMap<&'static str, &'static str>,
}

impl ClientState {
    /// `c.state.apply(cmd)` and `c.state.process(cmd)`.
    fn apply(&self, op: &Op) -> String {
        match op {
            Op::AddSessionToHistory(id) => {
                let mut h = self.claude_session_history.get();
                h.push(id);
                self.claude_session_history.set(h);
                format!("recorded {id}")
            }
            Op::CacheToolUse(id, tool) => {
                self.tool_use_cache.insert(id, tool);
                format!("cached {id}")
            }
            Op::UpdatePermissions { allowed_tools, skip_permissions } => {
                self.allowed_tools.set(allowed_tools.clone());
                self.skip_permissions.set(*skip_permissions);
                "permissions updated".into()
            }
            Op::StartAgent => {
                let allowed = self.allowed_tools.get();
                let skip = self.skip_permissions.get();
                let consistent = (allowed.is_empty() && skip) || (allowed == ["Read"] && !skip);
                Ctx::current().check(&CONSISTENT, consistent, || {
                    format!("the owner read allowedTools = {allowed:?} and skipPermissions = {skip}")
                });
                let line = if skip {
                    "claude --dangerously-skip-permissions".to_string()
                } else {
                    format!("claude --allowedTools {}", allowed.join(","))
                };
                let _ = Cmd::new(line.clone()).spawn();
                self.active_process.set(Some(line.clone()));
                format!("started {line}")
            }
        }
    }
}

/// `stateManager`: apply commands until the channel closes.
fn state_manager(state: &ClientState, commands: Receiver<Command>) {
    for cmd in commands.iter() {
        for op in &cmd {
            let done = state.apply(op); // c.state.apply(cmd)
            Ctx::current().note(done);
        }
    }
}

fn run(ctx: &Ctx) {
    let state = Arc::new(ClientState {
        claude_session_history: Shared::named("claudeSessionHistory", vec!["s1"]),
        allowed_tools: Shared::named("allowedTools", vec![]),
        skip_permissions: Shared::named("skipPermissions", true),
        active_process: Shared::named("activeProcess", None),
        tool_use_cache: GoMap::new("toolUseCache"),
    });
    ctx.setup("claudeSessionHistory = [\"s1\"]; allowedTools = [], skipPermissions = true");

    // permission-state's security check, on the owner's fields.
    let watched = Arc::clone(&state);
    let last = std::sync::Mutex::new(None::<String>);
    ctx.always(&ALLOWED, move || {
        let active = watched.active_process.inspect(|a| a.clone());
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        if active == *last {
            return Ok(()); // checked when it became the active process
        }
        last.clone_from(&active);
        let Some(cmd) = active else { return Ok(()) };
        let skip = watched.skip_permissions.inspect(|s| *s);
        if cmd.contains("--dangerously-skip-permissions") && !skip {
            return Err(format!("the agent runs as `{cmd}` though the user set skipPermissions = false"));
        }
        Ok(())
    });

    let (commands, inbox) = channel::<Command>(); // c.commands
    let s = Arc::clone(&state);
    let owner = thread::Builder::new().name("owner".into()).spawn(move || state_manager(&s, inbox)).unwrap();
    // The client's websocket read loop sends the user's permission change, with the session s3 it
    // starts and that session's first tool use; the handler it spawned earlier for session s2
    // records s2, caches its tool use and starts the agent. Each goroutine sends one command.
    let tx = commands.clone();
    let handler = thread::Builder::new()
        .name("handler s2".into())
        .spawn(move || {
            tx.send(vec![Op::AddSessionToHistory("s2"), Op::CacheToolUse("toolu_1", "Read"), Op::StartAgent]).unwrap()
        })
        .unwrap();
    let tx = commands;
    let read_loop = thread::Builder::new()
        .name("read loop".into())
        .spawn(move || {
            let change = Op::UpdatePermissions { allowed_tools: vec!["Read"], skip_permissions: false };
            tx.send(vec![change, Op::AddSessionToHistory("s3"), Op::CacheToolUse("toolu_2", "Bash")]).unwrap();
        })
        .unwrap();
    handler.join().unwrap();
    read_loop.join().unwrap();
    owner.join().unwrap();

    let h = state.claude_session_history.inspect(|h| h.clone());
    let active = state.active_process.inspect(|a| a.clone()).unwrap_or_default();
    ctx.end(format!("claudeSessionHistory = {h:?}; activeProcess = {active}"));
    ctx.check(&KEPT, ["s1", "s2", "s3"].iter().all(|id| h.contains(id)), || format!("the history is {h:?}"));
    let cache = state.tool_use_cache.inspect();
    for id in ["toolu_1", "toolu_2"] {
        ctx.check(&FOUND, cache.contains_key(id), || format!("{id} is not in toolUseCache = {cache:?}"));
    }
}

/// Witness: the permission change reached the owner between other goroutines' commands, and the
/// agent was started after it.
fn started_after_the_change(t: &Trace) -> bool {
    match (t.find_step("owner", "write(skipPermissions"), t.find_step("owner", "write(activeProcess")) {
        (Some(changed), Some(started)) => changed < started,
        _ => false,
    }
}

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "phase2-owner",
    summary: "the audit's Phase 2: one goroutine owns the client's state, the others send it commands",
    source: Source { seed: "004_d81902ba399f928a.txt", section: "Long-term Fixes (Phase 2)" },
    variants: &[Variant {
        name: "audit-design",
        expect: Expect::Holds,
        summary: "one owner goroutine applies every command; the others only send",
        body: &run,
        witnesses: &[
            Witness {
                name: "the two goroutines' commands interleaved",
                reached: |t| t.interleaved("handler s2", "read loop"),
            },
            Witness { name: "the agent was started after the user's change", reached: started_after_the_change },
        ],
        ..Variant::DEFAULTS
    }],
};
