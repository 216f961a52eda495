//! The data-race detector: happens-before over the steps of one execution, with vector clocks,
//! and a check of every plain access to a shared variable against it.
//!
//! Source: the vector-clock race detection of Go's race detector and ThreadSanitizer (Serebryany
//! and Iskhodzhanov, "ThreadSanitizer: data race detection in practice", 2009), with FastTrack's
//! epochs for the last write (Flanagan and Freund, PLDI 2009). How it deviates: it runs on the
//! model's steps, not on instrumented memory accesses, so it is exact for the schedule explored
//! (no sampling, no shadow-memory eviction) and reports a race in the first execution in which
//! two unordered accesses occur, whether or not they happened close together in that schedule.
//!
//! What orders threads (each step declares its [`Effect`]): spawn (the child starts after the
//! parent's past) and join (the joiner continues after the child's end); unlock → lock of a mutex
//! or rwlock; send → receive of a channel message; a store → a load of the same atomic, and
//! read-modify-writes continuing the release sequence; every step of a modeled OS or runtime
//! object (a system call, an event-loop turn), which the kernel or the loop serializes. Plain
//! reads and writes of a [`crate::sync::Shared`] variable (and of a Go map) order nothing. Two
//! accesses to one variable from different threads, at least one a write, neither before the
//! other in happens-before, are a data race.

use crate::trace::Effect;
use std::collections::BTreeMap;

/// A vector clock: one counter per thread of the execution, by thread index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Clock(Vec<u32>);

impl Clock {
    fn get(&self, t: usize) -> u32 {
        self.0.get(t).copied().unwrap_or(0)
    }

    fn tick(&mut self, t: usize) {
        if self.0.len() <= t {
            self.0.resize(t + 1, 0);
        }
        self.0[t] += 1;
    }

    fn join(&mut self, other: &Clock) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a = (*a).max(*b);
        }
    }
}

/// One access to a shared variable: who, at which of its epochs, at which step, doing what.
#[derive(Clone, Debug)]
struct Access {
    thread: usize,
    epoch: u32,
    step: usize,
    call: String,
}

/// The accesses to one variable that later ones must be ordered after.
#[derive(Clone, Debug, Default)]
struct Var {
    last_write: Option<Access>,
    /// The latest read of each thread since the last write.
    reads: Vec<Access>,
}

/// Two accesses to `var` that happens-before does not order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Race {
    /// The variable.
    pub var: String,
    /// A sentence naming both accesses, for the trace.
    pub detail: String,
}

/// Happens-before of one execution.
#[derive(Debug, Default)]
pub(crate) struct Hb {
    threads: Vec<Clock>,
    objects: BTreeMap<String, Clock>,
    vars: BTreeMap<String, Var>,
}

impl Hb {
    fn clock(&mut self, t: usize) -> &mut Clock {
        if self.threads.len() <= t {
            self.threads.resize_with(t + 1, Clock::default);
        }
        if self.threads[t].get(t) == 0 {
            self.threads[t].tick(t);
        }
        &mut self.threads[t]
    }

    /// Thread `child` is spawned by `parent`: it starts after everything the parent did so far.
    pub(crate) fn spawn(&mut self, parent: usize, child: usize) {
        let mut c = self.clock(parent).clone();
        self.clock(parent).tick(parent);
        c.tick(child);
        let slot = self.clock(child);
        slot.join(&c);
    }

    /// Thread `joiner` returned from joining `target`: it continues after everything `target` did.
    pub(crate) fn join(&mut self, joiner: usize, target: usize) {
        let c = self.clock(target).clone();
        self.clock(joiner).join(&c);
    }

    /// Applies step `step` (its index among steps) of `thread`, on `objects`, with `effect`.
    /// Returns the races a plain access completes, at most one per variable.
    pub(crate) fn step(
        &mut self,
        thread: usize,
        objects: &str,
        effect: Effect,
        step: usize,
        call: &str,
        names: &dyn Fn(usize) -> String,
    ) -> Vec<Race> {
        let mut races = Vec::new();
        for object in objects.split('+') {
            match effect {
                Effect::Sync | Effect::Acquire => {
                    if let Some(c) = self.objects.get(object).cloned() {
                        self.clock(thread).join(&c);
                    }
                }
                _ => {}
            }
            match effect {
                Effect::Read | Effect::Write => {
                    if let Some(r) = self.access(thread, object, effect == Effect::Write, step, call, names) {
                        races.push(r);
                    }
                }
                Effect::Sync | Effect::Release => {
                    let c = self.clock(thread).clone();
                    self.objects.entry(object.to_string()).or_default().join(&c);
                }
                Effect::Store => {
                    let c = self.clock(thread).clone();
                    self.objects.insert(object.to_string(), c);
                }
                Effect::Acquire | Effect::Opaque => {}
            }
        }
        if matches!(effect, Effect::Sync | Effect::Release | Effect::Store) {
            // A new epoch after every release: what the thread does from here on is not covered
            // by what it just released.
            self.clock(thread).tick(thread);
        }
        races
    }

    fn access(
        &mut self,
        thread: usize,
        var: &str,
        write: bool,
        step: usize,
        call: &str,
        names: &dyn Fn(usize) -> String,
    ) -> Option<Race> {
        let now = self.clock(thread).clone();
        let epoch = now.get(thread);
        let v = self.vars.entry(var.to_string()).or_default();
        let unordered = |a: &Access| a.thread != thread && a.epoch > now.get(a.thread);
        let mut conflict = v.last_write.as_ref().filter(|w| unordered(w)).cloned().map(|w| (w, true));
        if write && conflict.is_none() {
            conflict = v.reads.iter().find(|r| unordered(r)).cloned().map(|r| (r, false));
        }
        let me = Access { thread, epoch, step, call: call.to_string() };
        if write {
            v.last_write = Some(me);
            v.reads.clear();
        } else {
            v.reads.retain(|r| r.thread != thread);
            v.reads.push(me);
        }
        conflict.map(|(earlier, earlier_wrote)| Race {
            var: var.to_string(),
            detail: format!(
                "{}'s {} at step {} ({}) and {}'s {} at step {} ({}) are not ordered by happens-before: no lock, \
                 channel, join or atomic orders them",
                names(earlier.thread),
                if earlier_wrote { "write" } else { "read" },
                earlier.step,
                earlier.call,
                names(thread),
                if write { "write" } else { "read" },
                step,
                call
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(t: usize) -> String {
        format!("t{t}")
    }

    /// Runs `steps` (thread, objects, effect) and returns the variables found racing.
    fn races(spawned: &[usize], steps: &[(usize, &str, Effect)]) -> Vec<String> {
        let mut hb = Hb::default();
        for &c in spawned {
            hb.spawn(0, c);
        }
        let mut found = Vec::new();
        for (i, (t, o, e)) in steps.iter().enumerate() {
            found.extend(hb.step(*t, o, *e, i + 1, "call", &names).into_iter().map(|r| r.var));
        }
        found
    }

    #[test]
    fn locks_order_accesses_and_plain_accesses_do_not() {
        use Effect::*;
        // Both writes under one mutex: ordered.
        let locked = [(1, "m", Acquire), (1, "x", Write), (1, "m", Release), (2, "m", Acquire), (2, "x", Write)];
        assert!(races(&[1, 2], &locked).is_empty());
        // The second write outside the mutex: a race, though it comes later in this schedule.
        let unlocked = [(1, "m", Acquire), (1, "m", Release), (1, "x", Write), (2, "m", Acquire), (2, "x", Read)];
        assert_eq!(races(&[1, 2], &unlocked), ["x"]);
        // Two reads never race; a read then a write by another thread does.
        assert!(races(&[1, 2], &[(1, "x", Read), (2, "x", Read)]).is_empty());
        assert_eq!(races(&[1, 2], &[(1, "x", Read), (2, "x", Write)]), ["x"]);
        // One thread alone never races with itself.
        assert!(races(&[1], &[(1, "x", Write), (1, "x", Read), (1, "x", Write)]).is_empty());
    }

    #[test]
    fn spawn_and_join_order_and_a_store_releases_only_itself() {
        use Effect::*;
        let mut hb = Hb::default();
        // The parent writes, then spawns: the child's read is ordered after it.
        assert!(hb.step(0, "x", Write, 1, "w", &names).is_empty());
        hb.spawn(0, 1);
        assert!(hb.step(1, "x", Read, 2, "r", &names).is_empty());
        // The parent writes again while the child runs: a race.
        assert_eq!(hb.step(0, "x", Write, 3, "w", &names).len(), 1);
        // After joining the child, the parent's write is ordered after the child's read.
        hb.join(0, 1);
        assert!(hb.step(0, "x", Write, 4, "w", &names).is_empty());

        // t1 writes x then stores a; t2 stores a; t3 loads a (sees t2's store): x races.
        let steps = [(1, "x", Write), (1, "a", Store), (2, "a", Store), (3, "a", Acquire), (3, "x", Read)];
        assert_eq!(races(&[1, 2, 3], &steps), ["x"]);
        // With t2's a read-modify-write instead, the release sequence carries t1's store on.
        let steps = [(1, "x", Write), (1, "a", Store), (2, "a", Sync), (3, "a", Acquire), (3, "x", Read)];
        assert!(races(&[1, 2, 3], &steps).is_empty());
    }
}
