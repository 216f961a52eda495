//! The per-execution trace: every model step (thread, operation, result) and the notes scenario
//! code adds, rendered as one column per thread.
//!
//! A trace is data first: witnesses are predicates over it, the replay string is its step order,
//! and the rendered table is what snapshots store. Rendering uses logical thread names only — no
//! addresses, timings or backend task ids — so the same execution renders to the same bytes on any
//! machine.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// What a step does to happens-before (the order the data-race detector checks accesses of
/// [`crate::sync::Shared`] variables against). Applied to every object the step names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Effect {
    /// Acquire, then release: the thread sees everything released on the object before, and
    /// later acquirers see this thread's past (a system call on a kernel object, an event-loop
    /// turn, a read-modify-write of an atomic). The default for model steps.
    #[default]
    Sync,
    /// Acquire only (locking a mutex, loading an atomic, receiving a message).
    Acquire,
    /// Release only, added to what the object released before (unlocking a mutex).
    Release,
    /// Release only, replacing what the object released before (a plain store to an atomic: a
    /// later load synchronizes with this store alone).
    Store,
    /// No ordering (a failed `try_lock`, a `notify`, a Go map's unsynchronized access).
    Opaque,
    /// A plain read of the step's object, a shared variable: checked for data races.
    Read,
    /// A plain write of the step's object, a shared variable: checked for data races.
    Write,
}

/// One atomic model operation, in the words of the real call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Index of the logical thread that made the step (0 is the scenario's main thread).
    pub thread: usize,
    /// The model object the step acted on (a file system, a lock, a PID table), or several joined
    /// by `+`. Steps that share no object commute: the harness's reductions and its count of
    /// distinct interleavings rely on a step changing and reading only the objects it names.
    pub object: String,
    /// The call with its arguments, e.g. `open("/state/w.json", O_WRONLY|O_CREAT|O_TRUNC)`.
    pub call: String,
    /// What the call returned, e.g. `fd 3` or `ENOENT`.
    pub result: String,
    /// What the step does to happens-before (not part of the trace's text).
    #[serde(skip)]
    pub effect: Effect,
    /// The object `effect` applies to, when it is not the step's own (a channel's message: a
    /// receive synchronizes with the send of the message it takes, not with every send before).
    #[serde(skip)]
    pub effect_on: Option<String>,
}

impl Step {
    /// A step whose call and result read as `call` and `result`; the harness fills in its thread
    /// and object.
    pub fn new(call: impl Into<String>, result: impl Into<String>) -> Step {
        Step {
            thread: 0,
            object: String::new(),
            call: call.into(),
            result: result.into(),
            effect: Effect::Sync,
            effect_on: None,
        }
    }

    /// The same step with happens-before effect `effect`.
    pub fn with_effect(mut self, effect: Effect) -> Step {
        self.effect = effect;
        self
    }

    /// The same step with happens-before effect `effect` on `object` instead of its own objects.
    pub fn with_effect_on(mut self, effect: Effect, object: impl Into<String>) -> Step {
        self.effect = effect;
        self.effect_on = Some(object.into());
        self
    }

    /// The model objects the step touched: `object`, split at `+` (a process's death, say, also
    /// releases its files and locks, so it touches `processes+fs`).
    pub fn objects(&self) -> impl Iterator<Item = &str> {
        self.object.split('+')
    }
}

/// Whether steps on `a` and on `b` (each one or more objects joined by `+`) commute: they share no
/// object. Objects nest by `/`: `fs/ino:7` is part of `fs`, so a step on the whole file system
/// conflicts with a step on one of its inodes.
pub fn independent(a: &str, b: &str) -> bool {
    a.split('+').all(|x| b.split('+').all(|y| !overlap(x, y)))
}

/// Whether object `x` is object `y`, or one contains the other (`fs` and `fs/ino:7`).
fn overlap(x: &str, y: &str) -> bool {
    x == y
        || x.strip_prefix(y).is_some_and(|r| r.starts_with('/'))
        || y.strip_prefix(x).is_some_and(|r| r.starts_with('/'))
}

/// Whether `fine` (objects joined by `+`) names only parts of `coarse`'s objects: a step declared
/// on `coarse` (which its scheduling point is taken on) may report the finer footprint it turned
/// out to have.
pub fn refines(fine: &str, coarse: &str) -> bool {
    !fine.is_empty()
        && fine
            .split('+')
            .all(|x| coarse.split('+').any(|y| x == y || x.strip_prefix(y).is_some_and(|r| r.starts_with('/'))))
}

/// One row of a trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Row {
    /// A model step.
    Step(Step),
    /// A remark of scenario code, shown in its thread's column (not a scheduling point).
    Note {
        /// The thread that made the note.
        thread: usize,
        /// The remark.
        text: String,
    },
    /// An invariant found violated at this point of the execution.
    Violated {
        /// The invariant's name.
        invariant: String,
        /// What was observed.
        detail: String,
    },
}

/// Everything one execution did, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// Logical thread names by index; index 0 is the main thread.
    pub threads: Vec<String>,
    /// The initial state the scenario set up before any thread ran.
    pub setup: Vec<String>,
    /// Steps, notes and violations in the order they happened.
    pub rows: Vec<Row>,
    /// What the scenario observed once every thread had finished.
    pub end: Vec<String>,
    /// With descriptions on (a replay for rendering), the state of every model object after each
    /// step: `states[i]` is `(object, description)` for each object that describes itself, after
    /// step `i` (see `Ctx::describe`). Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<Vec<(String, String)>>,
    /// With descriptions on, the state of every model object that described itself before the
    /// first step (after the scenario's setup), so that what the first step changed is known too.
    /// Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub initial_state: Vec<(String, String)>,
}

impl Trace {
    /// The steps, in order.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.rows.iter().filter_map(|r| match r {
            Row::Step(s) => Some(s),
            _ => None,
        })
    }

    /// The number of steps.
    pub fn step_count(&self) -> usize {
        self.steps().count()
    }

    /// The thread of each step, in order: the schedule a replay string encodes.
    pub fn order(&self) -> Vec<usize> {
        self.steps().map(|s| s.thread).collect()
    }

    /// The execution's class up to reordering of independent steps: for every model object, the
    /// order in which threads made steps on it (steps on different objects commute). Two
    /// executions with the same signature are the same interleaving for every model. A 64-bit
    /// FNV-1a hash, so it is the same on every machine.
    pub fn signature(&self) -> u64 {
        const BASIS: u64 = 0xcbf2_9ce4_8422_2325;
        fn eat(h: &mut u64, bytes: &[u8]) {
            for &b in bytes {
                *h ^= u64::from(b);
                *h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        // One running hash per object (an execution touches a handful: a linear scan is cheapest).
        let mut per_object: Vec<(&str, u64)> = Vec::new();
        for s in self.steps() {
            for o in s.objects() {
                let i = match per_object.iter().position(|(x, _)| *x == o) {
                    Some(i) => i,
                    None => {
                        per_object.push((o, BASIS));
                        per_object.len() - 1
                    }
                };
                let h = &mut per_object[i].1;
                eat(h, &(s.thread as u64).to_le_bytes());
                eat(h, s.call.as_bytes());
                eat(h, &[0xfe]);
            }
        }
        per_object.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut h = BASIS;
        for (object, oh) in per_object {
            eat(&mut h, object.as_bytes());
            eat(&mut h, &[0xff]);
            eat(&mut h, &oh.to_le_bytes());
        }
        h
    }

    /// The index of the thread named `name`.
    pub fn thread_index(&self, name: &str) -> Option<usize> {
        self.threads.iter().position(|t| t == name)
    }

    /// Index (among steps) of the first step of `thread` whose call starts with `call_prefix`.
    pub fn find_step(&self, thread: &str, call_prefix: &str) -> Option<usize> {
        let t = self.thread_index(thread)?;
        self.steps().position(|s| s.thread == t && s.call.starts_with(call_prefix))
    }

    /// Whether some step of `thread` whose call starts with `call_prefix` happened strictly after
    /// step `after` and strictly before step `before` (indices among steps).
    pub fn step_between(&self, thread: &str, call_prefix: &str, after: usize, before: usize) -> bool {
        let Some(t) = self.thread_index(thread) else { return false };
        self.steps()
            .enumerate()
            .any(|(i, s)| i > after && i < before && s.thread == t && s.call.starts_with(call_prefix))
    }

    /// Whether threads `a` and `b` (by name) ran concurrently: each made a step while the other was
    /// between its first and its last step. The most common witness of a racy window: the threads
    /// really overlapped, rather than one running after the other.
    pub fn interleaved(&self, a: &str, b: &str) -> bool {
        let (Some(a), Some(b)) = (self.thread_index(a), self.thread_index(b)) else { return false };
        let at = |t: usize| self.steps().enumerate().filter(|(_, s)| s.thread == t).map(|(i, _)| i).collect::<Vec<_>>();
        let (a, b) = (at(a), at(b));
        let inside = |x: &[usize], y: &[usize]| match (y.first(), y.last()) {
            (Some(lo), Some(hi)) => x.iter().any(|i| lo < i && i < hi),
            _ => false,
        };
        inside(&a, &b) && inside(&b, &a)
    }

    /// Renders the thread-column table: a `#` column numbering the steps, then one column per
    /// thread that appears in a row. Notes and violations are unnumbered rows.
    pub fn render_table(&self) -> String {
        let mut used: Vec<usize> = Vec::new();
        for r in &self.rows {
            let t = match r {
                Row::Step(s) => Some(s.thread),
                Row::Note { thread, .. } => Some(*thread),
                Row::Violated { .. } => None,
            };
            if let Some(t) = t {
                if !used.contains(&t) {
                    used.push(t);
                }
            }
        }
        used.sort_unstable();
        let name = |t: usize| self.threads.get(t).cloned().unwrap_or_else(|| format!("thread {t}"));
        let cell = |r: &Row| -> Option<(usize, String)> {
            match r {
                Row::Step(s) if s.result.is_empty() => Some((s.thread, s.call.clone())),
                Row::Step(s) => Some((s.thread, format!("{} = {}", s.call, s.result))),
                Row::Note { thread, text } => Some((*thread, format!("· {text}"))),
                Row::Violated { .. } => None,
            }
        };
        // Width of each column but the last: the longest cell or the header.
        let mut widths: Vec<usize> = used.iter().map(|&t| name(t).chars().count()).collect();
        for r in &self.rows {
            if let Some((t, text)) = cell(r) {
                let col = used.iter().position(|&u| u == t).unwrap_or(0);
                widths[col] = widths[col].max(text.chars().count());
            }
        }
        let steps = self.step_count().max(1);
        let num_width = steps.to_string().len().max(1);
        let mut out = String::new();
        for line in &self.setup {
            let _ = writeln!(out, "setup: {line}");
        }
        let mut header = format!("{:>num_width$}", "#");
        for (col, &t) in used.iter().enumerate() {
            push_cell(&mut header, &name(t), widths[col], col + 1 == used.len());
        }
        let _ = writeln!(out, "{}", header.trim_end());
        let mut n = 0;
        // A very long trace (a livelock) shows its beginning and its end.
        let (head, tail) = (ELIDE_HEAD, ELIDE_TAIL);
        let elide = self.rows.len() > head + tail + 1;
        for (i, r) in self.rows.iter().enumerate() {
            if elide && i >= head && i < self.rows.len() - tail {
                if i == head {
                    let _ = writeln!(out, "{:>num_width$}  … {} rows not shown …", "", self.rows.len() - head - tail);
                }
                if matches!(r, Row::Step(_)) {
                    n += 1;
                }
                continue;
            }
            match r {
                Row::Violated { invariant, detail } => {
                    let _ = writeln!(out, "{:>num_width$}  !! violated \"{invariant}\": {detail}", "");
                }
                _ => {
                    let (t, text) = cell(r).unwrap_or_default();
                    let mut line = if matches!(r, Row::Step(_)) {
                        n += 1;
                        format!("{n:>num_width$}")
                    } else {
                        format!("{:>num_width$}", "")
                    };
                    for (col, &u) in used.iter().enumerate() {
                        let text = if u == t { text.as_str() } else { "" };
                        push_cell(&mut line, text, widths[col], col + 1 == used.len());
                    }
                    let _ = writeln!(out, "{}", line.trim_end());
                }
            }
        }
        for line in &self.end {
            let _ = writeln!(out, "end: {line}");
        }
        out
    }
}

/// Rows shown at the start and at the end of a trace too long to show whole.
const ELIDE_HEAD: usize = 60;
const ELIDE_TAIL: usize = 20;

fn push_cell(line: &mut String, text: &str, width: usize, last: bool) {
    line.push_str("  ");
    line.push_str(text);
    if !last {
        for _ in text.chars().count()..width {
            line.push(' ');
        }
    }
}
