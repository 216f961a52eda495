//! A Go map, with the Go runtime's detection of unsynchronized access.
//!
//! Go's runtime sets a "writing" flag in the map header for the duration of a write and throws a
//! fatal error ("concurrent map writes", "concurrent map read and map write") when another access
//! finds it set. The throw cannot be recovered: the process dies. So a write here is two steps —
//! the flag is set, then the entry is stored and the flag cleared — and an access that finds the
//! flag set ends the execution with that fatal error, as the real runtime would. (The real
//! detection is best-effort: it only fires when the accesses overlap in time, which is exactly
//! the interleaving the model explores.)

use harness::{Ctx, Effect, Invariant, Step};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard};

/// The Go runtime's fatal error on overlapping map accesses.
pub static CONCURRENT_MAP_ACCESS: Invariant = Invariant { name: "no concurrent map writes" };

struct State<K, V> {
    map: BTreeMap<K, V>,
    /// The thread in the middle of a write, if any.
    writing: Option<String>,
}

/// A Go `map[K]V` shared by goroutines.
pub struct GoMap<K, V> {
    ctx: Ctx,
    name: String,
    state: Arc<Mutex<State<K, V>>>,
}

impl<K, V> Clone for GoMap<K, V> {
    fn clone(&self) -> Self {
        GoMap { ctx: self.ctx.clone(), name: self.name.clone(), state: Arc::clone(&self.state) }
    }
}

impl<K: Ord + Clone + Debug + Send + 'static, V: Clone + Debug + Send + 'static> GoMap<K, V> {
    /// An empty map named `name` in traces.
    ///
    /// # Panics
    /// Outside an execution.
    #[track_caller]
    pub fn new(name: &str) -> GoMap<K, V> {
        let ctx = Ctx::current();
        GoMap {
            name: ctx.object_name(name),
            ctx,
            state: Arc::new(Mutex::new(State { map: BTreeMap::new(), writing: None })),
        }
    }

    fn st(&self) -> MutexGuard<'_, State<K, V>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A step on the map: a plain access (`effect` is `Read` or `Write`), which the data-race
    /// detector checks as Go's race detector would; a Go map orders nothing.
    fn step<R>(&self, call: String, effect: Effect, f: impl FnOnce(&mut State<K, V>) -> (R, String)) -> R {
        self.ctx.step(
            &self.name,
            || Ok(()),
            || {
                let (r, result) = f(&mut self.st());
                (r, Step::new(call, result).with_effect(effect))
            },
        )
    }

    /// `m[k] = v`: the runtime's write, in two steps (flag set; store and flag cleared).
    pub fn insert(&self, k: K, v: V) {
        let (me, _) = (self.ctx.current_thread().1, ());
        let name = self.name.clone();
        let clash = self.step(format!("{name}[{k:?}] = {v:?} (begin)"), Effect::Write, |st| match &st.writing {
            Some(other) => (Some(other.clone()), "fatal error: concurrent map writes".to_string()),
            None => {
                st.writing = Some(me.clone());
                (None, "writing".to_string())
            }
        });
        if let Some(other) = clash {
            self.ctx.fatal(&CONCURRENT_MAP_ACCESS, format!("{me} wrote {name} while {other} was writing it"));
        }
        self.step(format!("{name}[{k:?}] = {v:?} (end)"), Effect::Write, |st| {
            st.map.insert(k, v);
            st.writing = None;
            ((), "ok".to_string())
        });
    }

    /// `v, ok := m[k]`.
    pub fn get(&self, k: &K) -> Option<V> {
        let me = self.ctx.current_thread().1;
        let name = self.name.clone();
        let (v, clash) = self.step(format!("{name}[{k:?}]"), Effect::Read, |st| match &st.writing {
            Some(other) => ((None, Some(other.clone())), "fatal error: concurrent map read and map write".to_string()),
            None => {
                let v = st.map.get(k).cloned();
                let shown = format!("{v:?}");
                ((v, None), shown)
            }
        });
        if let Some(other) = clash {
            self.ctx.fatal(&CONCURRENT_MAP_ACCESS, format!("{me} read {name} while {other} was writing it"));
        }
        v
    }

    /// The map's entries without a step: for end-state checks.
    pub fn inspect(&self) -> BTreeMap<K, V> {
        self.ctx.observe(&self.name);
        self.st().map.clone()
    }
}
