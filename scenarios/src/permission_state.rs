//! # permission-state — permission fields read without the lock
//!
//! Source: seed `004_d81902ba399f928a.txt`, "3. Permission State Inconsistency"
//! (websocket.go:1019-1025) and its fix ("Fix Requirements", "3. Permission State Atomicity").
//!
//! The permission handler applies a message from the browser under `processMutex`: it reads
//! `pendingToolPermission`, then stores `allowedTools`, `skipPermissions` and clears
//! `pendingToolPermission`, three plain stores. The audit: "Other goroutines see partial updates
//! … Permission checks may use inconsistent state … Security bypass". Whoever reads the fields
//! without the lock does: here the goroutine that starts the agent (`claude`), which copies
//! `allowedTools` and `skipPermissions` into its command line (`--dangerously-skip-permissions`, or
//! `--allowedTools …`) and starts the process. The security invariant, in the audit's terms: **no
//! tool runs that the user did not allow**: when the agent starts, every tool its flags let run
//! without asking is allowed by the permissions the user has set at that moment.
//!
//! The user had started the session with "skip permissions" (`skipPermissions = true`) and now
//! turns it off, allowing only `Read`. The failing interleaving of the code as audited (`buggy`),
//! 1 preemption:
//! 1. the handler locks `processMutex`, reads `pendingToolPermission` and stores
//!    `allowedTools = ["Read"]`;
//! 2. the agent starter, which takes no lock, reads `allowedTools` (`["Read"]`, the new value) and
//!    `skipPermissions` (`true`, the old one): a state the user never set, half old, half new;
//! 3. the handler stores `skipPermissions = false`, clears `pendingToolPermission` and unlocks: the
//!    user's change is applied;
//! 4. the starter starts `claude --dangerously-skip-permissions`: Bash, Write and every other tool
//!    now run without asking, though the user allows only Read.
//!
//! What lets the tool through is the **read of `skipPermissions`**, made before the handler's
//! store and acted on after it. The torn read (2) is real, and the model reports it ("permission
//! checks use consistent state"), but a torn read alone cannot grant more than some state the user
//! set: the check is "skip, or listed", so whichever field granted the tool had that value in the
//! old or the new state. The danger is the stale decision acted on after the user's change, which a
//! torn read is one case of; the data-race detector reports the unsynchronized reads as well.
//!
//! The audit's fix (`audit-fix`) is `UpdatePermissions`: the same three stores under the same
//! `processMutex`, which is what the audited code already does; taken alone it changes nothing
//! for a reader that takes no lock. The variant gives it the reader it implies (`GetPermissions`, a
//! copy of the three fields under the lock, as its `GetSessionHistory` is for finding 1): no torn
//! read and no data race any more, but the starter still decides under the lock and starts the agent
//! after unlocking, so the same schedule still starts it with `--dangerously-skip-permissions` after
//! the user turned that off: **the audit's fix does not keep its security promise.**
//!
//! `fixed` reads the permissions and starts the agent under one hold of `processMutex` (as the
//! audit's own `TerminateActiveProcess` holds it across the signal): the user's change is applied
//! wholly before the start or wholly after it, and the agent's flags are the permissions in force
//! when it starts. It holds, race-free.
//!
//! Modeling choices:
//! - The agent's start is `Command::spawn` of a process named after its command line, then
//!   `activeProcess = cmd` under `processMutex`, as finding 2's code has it. The security check runs
//!   after every step: once an agent is the active process, its flags must be allowed by the
//!   permission fields at that moment. Both are written under `processMutex` in every variant, so
//!   "at that moment" is ordered by the lock and does not depend on how independent steps are
//!   interleaved. What the agent does once started (run Bash) is then the flags' doing.
//! - A running agent keeps the flags it started with; whether the handler then restarts it (so a
//!   later change reaches it) is another piece of code, not modeled here.
//! - `pendingToolPermission` is empty (nothing was pending while permissions were skipped); the
//!   handler's read and store of it are kept as the audited code has them.

use interleave::process::Command;
use interleave::sync::{Arc, Mutex, Shared};
use interleave::{thread, Ctx, Expect, Invariant, Scenario, Source, Trace, Variant, Witness};

/// The security invariant.
pub static ALLOWED: Invariant = Invariant { name: "no tool runs that the user did not allow" };
/// The audit's "Permission checks may use inconsistent state", as an invariant.
pub static CONSISTENT: Invariant = Invariant { name: "permission checks use consistent state" };

/// The audit's `PermissionState`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PermissionState {
    allowed_tools: Vec<&'static str>,
    skip_permissions: bool,
    pending_tool: &'static str,
}

/// The permissions before (the session started with "skip permissions") and after the user's
/// message (skip off, only Read allowed).
fn before() -> PermissionState {
    PermissionState { allowed_tools: vec![], skip_permissions: true, pending_tool: "" }
}
fn after() -> PermissionState {
    PermissionState { allowed_tools: vec!["Read"], skip_permissions: false, pending_tool: "" }
}

/// The fields of Go's `Client` that the finding touches.
struct Client {
    process_mutex: Mutex<()>,
    allowed_tools: Shared<Vec<&'static str>>,
    skip_permissions: Shared<bool>,
    pending_tool_permission: Shared<&'static str>,
    /// The agent's command line once it is the active process (guarded by `processMutex`).
    active_process: Shared<Option<String>>,
}

/// How the starter reads the permissions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    /// The fields, directly, with no lock (as audited).
    Unlocked,
    /// `GetPermissions`: a copy under `processMutex`, then the start after unlocking.
    Snapshot,
    /// The read and the start under one hold of `processMutex`.
    HeldAcrossStart,
}

/// The agent's command line for a permission state.
fn command_line(p: &PermissionState) -> String {
    if p.skip_permissions {
        "claude --dangerously-skip-permissions".into()
    } else {
        format!("claude --allowedTools {}", p.allowed_tools.join(","))
    }
}

impl Client {
    /// The permission handler: the audited code, which is also the audit's `UpdatePermissions`.
    fn update_permissions(&self, msg: PermissionState) {
        let _g = self.process_mutex.lock().unwrap();
        let pending_tool = self.pending_tool_permission.get();
        Ctx::current().note(format!("pendingTool = {pending_tool:?}"));
        self.allowed_tools.set(msg.allowed_tools);
        self.skip_permissions.set(msg.skip_permissions);
        self.pending_tool_permission.set(msg.pending_tool);
    }

    /// The three fields, one read each.
    fn read_fields(&self) -> PermissionState {
        let allowed_tools = self.allowed_tools.get();
        let skip_permissions = self.skip_permissions.get();
        let pending_tool = self.pending_tool_permission.get();
        PermissionState { allowed_tools, skip_permissions, pending_tool }
    }

    /// `executeAgentCommandWithSession`: build the agent's command line from the permissions,
    /// start it, and store it as `activeProcess` under `processMutex` (finding 2's code).
    fn start_agent(&self, read: Read) {
        let ctx = Ctx::current();
        let held = (read == Read::HeldAcrossStart).then(|| self.process_mutex.lock().unwrap());
        let seen = match read {
            Read::Snapshot => {
                let _g = self.process_mutex.lock().unwrap(); // GetPermissions: a copy under the lock
                self.read_fields()
            }
            _ => self.read_fields(), // as audited: no lock (fixed: the lock is held already)
        };
        ctx.check(&CONSISTENT, seen == before() || seen == after(), || inconsistent(&seen));
        let cmd = command_line(&seen);
        let _ = Command::new(cmd.clone()).spawn(); // cmd.Start()
        let _g = if held.is_some() { held } else { Some(self.process_mutex.lock().unwrap()) };
        self.active_process.set(Some(cmd)); // client.activeProcess = cmd
    }
}

fn inconsistent(seen: &PermissionState) -> String {
    format!(
        "the starter read allowedTools = {:?} and skipPermissions = {}: a state the user never set",
        seen.allowed_tools, seen.skip_permissions
    )
}

fn run(ctx: &Ctx, read: Read) {
    let s = before();
    let c = Arc::new(Client {
        process_mutex: Mutex::named("processMutex", ()),
        allowed_tools: Shared::named("allowedTools", s.allowed_tools),
        skip_permissions: Shared::named("skipPermissions", s.skip_permissions),
        pending_tool_permission: Shared::named("pendingToolPermission", s.pending_tool),
        active_process: Shared::named("activeProcess", None),
    });
    ctx.setup("allowedTools = [], skipPermissions = true (the session skips permissions)");
    ctx.setup("the user's message: AllowedTools = [\"Read\"], SkipPermissions = false");

    // The security check, after every step: once an agent is the active process, the tools it
    // may run without asking are allowed by the permissions in force. Both are guarded by
    // processMutex in every variant, so the moment is well defined.
    let watched = Arc::clone(&c);
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
        let allowed = watched.allowed_tools.inspect(|a| a.clone());
        if cmd.contains("--dangerously-skip-permissions") && !skip {
            return Err(format!(
                "the agent runs as `{cmd}` though the user set skipPermissions = false, allowedTools = \
                 {allowed:?}: Bash runs without asking"
            ));
        }
        Ok(())
    });

    let h = Arc::clone(&c);
    let handler =
        thread::Builder::new().name("permission handler".into()).spawn(move || h.update_permissions(after())).unwrap();
    let st = Arc::clone(&c);
    let starter = thread::Builder::new().name("agent starter".into()).spawn(move || st.start_agent(read)).unwrap();
    handler.join().unwrap();
    starter.join().unwrap();
    let active = c.active_process.inspect(|a| a.clone()).unwrap_or_default();
    ctx.end(format!("skipPermissions = {}; activeProcess = {active}", c.skip_permissions.inspect(|s| *s)));
}

/// Witness: the agent was started after the handler had applied the user's message, the order in
/// which a stale read lets a tool through.
fn started_after_the_change(t: &Trace) -> bool {
    match (
        t.find_step("permission handler", "write(pendingToolPermission"),
        t.find_step("agent starter", "write(activeProcess"),
    ) {
        (Some(applied), Some(started)) => applied < started,
        _ => false,
    }
}

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "permission-state",
    summary: "allowedTools / skipPermissions are stored under processMutex but read without it to start the agent",
    source: Source { seed: "004_d81902ba399f928a.txt", section: "3. Permission State Inconsistency" },
    variants: &[
        Variant {
            name: "buggy",
            expect: Expect::Counterexample,
            summary: "the starter reads the fields with no lock",
            body: &|ctx| run(ctx, Read::Unlocked),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "audit-fix",
            expect: Expect::Counterexample,
            summary: "UpdatePermissions, and a GetPermissions copy under the lock; the start after unlocking",
            body: &|ctx| run(ctx, Read::Snapshot),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed",
            expect: Expect::Holds,
            summary: "the permissions are read and the agent started under one hold of processMutex",
            body: &|ctx| run(ctx, Read::HeldAcrossStart),
            witnesses: &[Witness {
                name: "the agent started after the user's change was applied",
                reached: started_after_the_change,
            }],
            ..Variant::DEFAULTS
        },
    ],
};
