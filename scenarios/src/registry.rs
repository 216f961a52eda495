//! Not a scenario: tmux-router's `registry.rs` (with the `RegistryLock` that agent-doc's
//! `sessions.rs` wraps), written once with `interleave::fs` for the seed 001 scenarios that
//! share it (`registry-rmw`, `nested-flock`, `load-save-footgun`, `claim-toctou`).
//!
//! The registry, `.agent-doc/sessions.json`, maps a document's session ID to the tmux pane that
//! serves it. Every `agent-doc` process (claim, route, sync, resync) reads and rewrites it.
//! `RegistryLock` is an exclusive `flock` on the sibling file `sessions.json.lock`, opened with
//! `OpenOptions::new().create(true).write(true).truncate(false)` and locked with `fs2`'s
//! `lock_exclusive` (`flock(LOCK_EX)`, the call `File::lock` makes); dropping the guard unlocks
//! (`flock(LOCK_UN)`) and closes the file. `load_registry` is `path.exists()` (a `statx`), then
//! `fs::read_to_string`; `save_registry` is `fs::write`, which truncates the file in place.
//!
//! What each scenario's variants change is one field of [`Code`]: whether the mutators take the
//! lock (`lock`, since v0.2.1) and whether `RegistryLock::acquire` checks the thread-local
//! `REGISTRY_LOCK_HELD` flag, with `prune()` using `acquire_or_skip()` (`held_flag`, v0.9.6).
//!
//! Modeling choices, the same for every scenario that uses this file:
//! - `create_dir_all` of `.agent-doc/` before opening the lock file and before saving is left
//!   out: the directory exists, so each call is a `mkdir` that fails with `EEXIST` and a `statx`,
//!   two steps that change nothing and would multiply the schedules of every proof.
//! - The registry is a `BTreeMap` (the real one is a `HashMap`) and is written as compact JSON
//!   (`to_string_pretty` in the real code): the order of entries and whitespace decide nothing
//!   here, and determinism is an invariant of the whole catalog.
//! - Which tmux panes are alive (`tmux list-panes`, a subprocess) is fixed by each scenario and
//!   not a step: no pane dies or is created while the scenario runs.
//! - `prune()`'s de-duplication of entries that share a pane (keeping the newest by `started`)
//!   is left out: no scenario that prunes has two entries on one pane.

use interleave::fs::{self, File, OpenOptions};
use interleave::Ctx;
use std::collections::{BTreeMap, BTreeSet};
use std::io;

/// The project's agent-doc directory.
pub const DIR: &str = "/project/.agent-doc";
/// The registry.
pub const REGISTRY: &str = "/project/.agent-doc/sessions.json";
/// `RegistryLock`'s lock file: `registry_path.with_extension("json.lock")`.
pub const LOCK: &str = "/project/.agent-doc/sessions.json.lock";

/// One registry entry (`RegistryEntry`, with the fields these scenarios read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The tmux pane serving the document.
    pub pane: String,
    /// The document.
    pub file: String,
    /// The tmux window of the pane (empty when not recorded).
    pub window: String,
}

impl Entry {
    /// An entry without a window.
    pub fn new(pane: &str, file: &str) -> Entry {
        Entry { pane: pane.into(), file: file.into(), window: String::new() }
    }
}

/// The registry: session ID → entry.
pub type Registry = BTreeMap<String, Entry>;

/// `serde_json::to_string` of the registry.
pub fn to_json(r: &Registry) -> String {
    let map: serde_json::Map<String, serde_json::Value> = r
        .iter()
        .map(|(k, e)| {
            let mut v = serde_json::json!({ "pane": e.pane, "file": e.file });
            if !e.window.is_empty() {
                v["window"] = e.window.clone().into();
            }
            (k.clone(), v)
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// `serde_json::from_str` of the registry.
pub fn from_json(s: &str) -> Result<Registry, String> {
    let v: serde_json::Value = serde_json::from_str(s).map_err(|e| e.to_string())?;
    let obj = v.as_object().ok_or("the registry is not an object")?;
    let field = |e: &serde_json::Value, f: &str| e.get(f).and_then(|x| x.as_str()).unwrap_or_default().to_string();
    Ok(obj
        .iter()
        .map(|(k, e)| (k.clone(), Entry { pane: field(e, "pane"), file: field(e, "file"), window: field(e, "window") }))
        .collect())
}

/// The registry as a person reads it: `s1 → %1 (a.md), s2 → %2 (b.md, @2)`.
pub fn show(r: &Registry) -> String {
    if r.is_empty() {
        return "{}".into();
    }
    let entry = |(k, e): (&String, &Entry)| {
        let window = if e.window.is_empty() { String::new() } else { format!(", {}", e.window) };
        format!("{k} → {} ({}{window})", e.pane, e.file)
    };
    r.iter().map(entry).collect::<Vec<_>>().join(", ")
}

/// The registry on the modeled disk once every thread has finished (an end check), or why it
/// cannot be read.
pub fn on_disk() -> Result<Registry, String> {
    let data = interleave::fs::Fs::current().inspect(|st| st.contents(REGISTRY));
    match data {
        None => Ok(Registry::new()),
        Some(d) => from_json(&String::from_utf8_lossy(&d)),
    }
}

/// Writes the registry and the lock file before any thread runs.
pub fn setup(r: &Registry) {
    let fs = interleave::fs::Fs::current();
    fs.setup_dir("/project");
    fs.setup_dir(DIR);
    fs.setup_file(REGISTRY, to_json(r).as_bytes());
    fs.setup_file(LOCK, b""); // left by earlier agent-doc runs
}

/// What one variant's registry code does.
#[derive(Clone, Copy, Debug)]
pub struct Code {
    /// The mutators (`register_full`, `prune`, `update_window_for_entry`, `with_registry`) hold
    /// `RegistryLock` across their read-modify-write (since v0.2.1); `false` is the code before.
    pub lock: bool,
    /// `RegistryLock::acquire` refuses when the thread-local `REGISTRY_LOCK_HELD` is set and
    /// `prune()` uses `acquire_or_skip()` (since v0.9.6); `false` is the code before.
    pub held_flag: bool,
}

/// `thread_local! { static REGISTRY_LOCK_HELD: Cell<bool> = const { Cell::new(false) }; }`.
///
/// A real `thread_local!` would be shared by every modeled thread (shuttle and loom run them on
/// one OS thread), so this keeps one flag per thread of the execution, keyed by the thread's
/// index. Only the thread itself reads or writes its flag: it is thread-local state, not state
/// the harness needs to interleave.
pub static REGISTRY_LOCK_HELD: ThreadLocalFlag = ThreadLocalFlag;

/// A `Cell<bool>` per thread of the execution (see [`REGISTRY_LOCK_HELD`]).
pub struct ThreadLocalFlag;

/// The threads whose flag is set, kept by the execution.
#[derive(Default)]
struct FlagsSet(std::sync::Mutex<BTreeSet<usize>>);

impl ThreadLocalFlag {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeSet<usize>, usize) -> R) -> R {
        let ctx = Ctx::current();
        let me = ctx.current_thread().0;
        let flags = ctx.local(FlagsSet::default);
        let mut set = flags.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut set, me)
    }

    /// `REGISTRY_LOCK_HELD.get()`.
    pub fn get(&self) -> bool {
        self.with(|set, me| set.contains(&me))
    }

    /// `REGISTRY_LOCK_HELD.set(on)`.
    pub fn set(&self, on: bool) {
        self.with(|set, me| if on { set.insert(me) } else { set.remove(&me) });
    }
}

/// `RegistryLock`: the exclusive advisory lock on the registry, released when dropped.
#[derive(Debug)]
pub struct RegistryLock {
    file: File,
}

impl RegistryLock {
    /// `RegistryLock::acquire`: blocks until the lock is free.
    pub fn acquire(code: Code) -> io::Result<RegistryLock> {
        if code.held_flag && REGISTRY_LOCK_HELD.get() {
            // The v0.9.6 fix: a nested acquire on this thread is an error, not a deadlock.
            return Err(io::Error::other(format!(
                "RegistryLock already held on this thread — would deadlock on {LOCK}"
            )));
        }
        let file = OpenOptions::new().create(true).write(true).truncate(false).open(LOCK)?;
        file.lock()?; // fs2's lock_exclusive: flock(LOCK_EX), which waits for any other description
        REGISTRY_LOCK_HELD.set(true);
        Ok(RegistryLock { file })
    }

    /// `RegistryLock::acquire_or_skip`: `None`, with a warning, when this thread holds the lock.
    pub fn acquire_or_skip(code: Code) -> io::Result<Option<RegistryLock>> {
        if code.held_flag && REGISTRY_LOCK_HELD.get() {
            Ctx::current().note("warning: RegistryLock already held on this thread, skipping nested lock");
            return Ok(None);
        }
        Ok(Some(RegistryLock::acquire(code)?))
    }
}

impl Drop for RegistryLock {
    /// `let _ = self._file.unlock(); REGISTRY_LOCK_HELD.set(false);`, then the file closes. A
    /// thread that is unwinding (its process was killed, or the execution stopped) makes no step.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = self.file.unlock();
            REGISTRY_LOCK_HELD.set(false);
        }
    }
}

/// The lock, when this variant's mutators take it.
fn lock_if(code: Code) -> io::Result<Option<RegistryLock>> {
    if code.lock {
        RegistryLock::acquire(code).map(Some)
    } else {
        Ok(None)
    }
}

/// `load_registry`: an empty registry when the file does not exist, else the parsed file.
pub fn load_registry() -> io::Result<Registry> {
    if !fs::exists(REGISTRY)? {
        return Ok(Registry::new());
    }
    let content = fs::read_to_string(REGISTRY)?;
    from_json(&content)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("failed to parse {REGISTRY}: {e}")))
}

/// `save_registry`: `fs::write`, which truncates the registry in place and writes it.
pub fn save_registry(r: &Registry) -> io::Result<()> {
    fs::write(REGISTRY, to_json(r))
}

/// `with_registry` / `with_registry_val`: load, `f`, save, under the lock for the whole
/// read-modify-write.
pub fn with_registry<T>(code: Code, f: impl FnOnce(&mut Registry) -> T) -> io::Result<T> {
    let _lock = lock_if(code)?;
    let mut registry = load_registry()?;
    let val = f(&mut registry);
    save_registry(&registry)?;
    Ok(val)
}

/// `register_full(session_id, pane_id, file, …)`: one session per pane (entries of other sessions
/// on the same pane are removed as stale), then the entry is inserted under `session_id`.
pub fn register_full(code: Code, session_id: &str, pane: &str, file: &str) -> io::Result<()> {
    with_registry(code, |registry| {
        let stale: Vec<String> = registry
            .iter()
            .filter(|(k, e)| e.pane == pane && k.as_str() != session_id)
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            Ctx::current().note(format!("[registry] removing stale session {key} (was pane {pane})"));
            registry.remove(&key);
        }
        registry.insert(session_id.into(), Entry::new(pane, file));
    })
}

/// `prune(registry_path, tmux)`: removes entries whose pane is not in `alive`, and saves if it
/// removed any. Returns how many it removed.
pub fn prune(code: Code, alive: &[&str]) -> io::Result<usize> {
    let _lock = if code.lock {
        match RegistryLock::acquire_or_skip(code)? {
            Some(lock) => Some(lock),
            None => {
                Ctx::current().note("[registry] prune skipped — lock already held on this thread");
                return Ok(0);
            }
        }
    } else {
        None
    };
    let mut registry = load_registry()?;
    let before = registry.len();
    registry.retain(|_, e| alive.contains(&e.pane.as_str())); // tmux.alive_pane_ids()
    let removed = before - registry.len();
    if removed > 0 {
        save_registry(&registry)?;
    }
    Ok(removed)
}

/// The intervals (indices among steps) in which `holder` held `RegistryLock`: from its
/// `flock(…, LOCK_EX)` to its `flock(…, LOCK_UN)` (or the end of the trace).
pub fn held_intervals(t: &interleave::Trace, holder: &str) -> Vec<(usize, usize)> {
    let Some(h) = t.thread_index(holder) else { return Vec::new() };
    let mut out = Vec::new();
    let mut from = None;
    for (i, s) in t.steps().enumerate().filter(|(_, s)| s.thread == h) {
        if s.call.starts_with("flock(") && s.call.contains("LOCK_EX") && s.result == "ok" {
            from = Some(i);
        } else if s.call.starts_with("flock(") && s.call.contains("LOCK_UN") {
            if let Some(f) = from.take() {
                out.push((f, i));
            }
        }
    }
    if let Some(f) = from {
        out.push((f, t.step_count()));
    }
    out
}

/// Witness: `other` opened the lock file (and so went on to wait in `flock`) while `holder` held
/// `RegistryLock`.
pub fn waited_for(t: &interleave::Trace, holder: &str, other: &str) -> bool {
    let open = format!("open(\"{LOCK}\"");
    held_intervals(t, holder).into_iter().any(|(from, to)| t.step_between(other, &open, from, to))
}

/// Starts `agent-doc <name>` as a process of its own (its own descriptors and `flock`s) that runs
/// `main`; on an error it says so and exits with status 1, as `agent-doc` does.
pub fn agent_doc(name: &str, main: impl FnOnce() -> io::Result<()> + Send + 'static) -> interleave::process::Child {
    let who = name.to_string();
    interleave::process::Builder::new(name)
        .spawn(move || {
            if let Err(e) = main() {
                Ctx::current().note(format!("agent-doc {who}: error: {e}"));
                interleave::process::exit(1);
            }
        })
        .expect("the PID space has room")
}

/// Waits for an `agent-doc` process: whether it succeeded.
pub fn succeeded(child: &mut interleave::process::Child) -> bool {
    child.wait().is_ok_and(|s| s.success())
}
