//! # session-history — `claudeSessionHistory` appended outside the mutex
//!
//! Source: seed `004_d81902ba399f928a.txt`, "1. Session History Corruption" (websocket.go:319-328),
//! its fix ("Fix Requirements", "1. Session History Protection") and its test ("Testing
//! Requirements", `TestConcurrentSessionHistory`).
//!
//! A websocket handler that starts an agent session reads the client's `claudeSessionHistory`
//! under `processMutex` (to collect the earlier session IDs worth resuming), unlocks, and later
//! appends the new session's ID with `client.claudeSessionHistory = append(…)`, outside any lock:
//! the audit's "RACE!". Go's `append` reads the slice and then stores the new one, two plain
//! accesses of the field.
//!
//! The failing interleaving of the code as audited (`buggy`), two handlers of one client, 1
//! preemption:
//! 1. handler s2 locks `processMutex`, reads the history `["s1"]`, unlocks;
//! 2. handler s3 does the same;
//! 3. handler s2 reads the history for its `append` (`["s1"]`) and is preempted;
//! 4. handler s3 appends: the history is `["s1", "s3"]`;
//! 5. handler s2 stores its slice `["s1", "s2"]`: s3's ID is lost ("users lose conversation
//!    context" the next time the sessions to resume are collected).
//!
//! The data-race detector reports the unordered accesses in the same execution (`data race on
//! claudeSessionHistory`, Go's race detector would too), whether or not an ID is lost.
//!
//! `audit-fix` is the audit's fix: a `sync.RWMutex` for the history alone, `GetSessionHistory`
//! under `RLock` (returning a copy) and `AddSessionToHistory` under `Lock`. It holds, and the race
//! detector finds nothing: every access of the field is ordered by the lock. The audit's "index
//! out of bounds" needs a read of a slice header torn by a concurrent store (Go slices are three
//! words); the model's variable is one value, so that symptom is not modeled, only the lost update.
//!
//! The audit's own test (`audit-test`) spawns `goroutines` goroutines that each call
//! `AddSessionToHistory`, waits for all of them and checks `len(GetSessionHistory()) ==
//! goroutines` ("Lost session updates due to race condition"). It holds against the fix.
//! `audit-test-unfixed` runs the same test against the append as audited (no lock): it fails
//! with two goroutines already, and with any number above one.
//!
//! The test's sizes: `goroutines` takes 2..=100 and is 3 in the catalog, so that the default
//! search proves `audit-test` over every schedule. The audit's own size is
//! `interleave check 'session-history/audit-test[goroutines=100]'`: 101 threads, which the step-level
//! search cannot cover (a proof would need every order of 100 critical sections) and loom does not
//! take (at most 5 threads; the check says it left loom out), so it is a **sample** of 20,000
//! schedules, as `go test -race` itself is one schedule per run. The nightly explores it too.
//!
//! Modeling choices:
//! - A handler's work between reading the sessions to try and appending (starting the agent
//!   process) touches nothing else shared here, so it is left out: it only widens the window.
//! - The history starts as `["s1"]` (an earlier session) so that the sessions to try are not empty.

use interleave::sync::{Arc, Mutex, RwLock, Shared};
use interleave::{thread, Ctx, Expect, Invariant, Param, Scenario, Source, Trace, Variant, Witness};

/// The audit's "Success Criteria" 5: no appended session ID is lost.
pub static KEPT: Invariant = Invariant { name: "session history never corrupted" };
/// What `TestConcurrentSessionHistory` asserts.
pub static ALL_RECORDED: Invariant = Invariant { name: "all sessions recorded" };

/// The fields of Go's `Client` that the finding touches.
struct Client {
    process_mutex: Mutex<()>,
    /// The audit's fix: `sessionMutex sync.RWMutex`, for the history alone.
    session_mutex: RwLock<()>,
    claude_session_history: Shared<Vec<String>>,
}

impl Client {
    fn new(history: &[&str]) -> Arc<Client> {
        Arc::new(Client {
            process_mutex: Mutex::named("processMutex", ()),
            session_mutex: RwLock::named("sessionMutex", ()),
            claude_session_history: Shared::named(
                "claudeSessionHistory",
                history.iter().map(|s| s.to_string()).collect(),
            ),
        })
    }

    /// The audit's `GetSessionHistory`: a copy, under `RLock`.
    fn get_session_history(&self) -> Vec<String> {
        let _r = self.session_mutex.read().unwrap();
        self.claude_session_history.get()
    }

    /// The audit's `AddSessionToHistory`: `append` under `Lock`; `locked: false` is the append
    /// as audited, with no lock at all.
    fn add_session_to_history(&self, id: String, locked: bool) {
        let _w = locked.then(|| self.session_mutex.write().unwrap()); // the fix: Lock() … defer Unlock()
        let mut h = self.claude_session_history.get(); // append(c.claudeSessionHistory, id) reads the slice …
        h.push(id);
        self.claude_session_history.set(h); // … and stores the new one
    }
}

/// A handler of `executeAgentCommandWithSession`: collect the sessions to try, later record the
/// new session's ID.
fn handle(c: &Client, new_id: &str, primary: &str, fixed: bool) {
    let history = if fixed {
        c.get_session_history()
    } else {
        let _g = c.process_mutex.lock().unwrap();
        c.claude_session_history.get()
    };
    let to_try: Vec<&String> = history.iter().rev().filter(|id| *id != primary).collect();
    Ctx::current().note(format!("sessionIDsToTry = {to_try:?}"));
    // … the agent starts; later, with processMutex released:
    c.add_session_to_history(new_id.to_string(), fixed); // as audited: the "RACE!" line
}

/// Two handlers of one client each start a session.
fn handlers(ctx: &Ctx, fixed: bool) {
    let c = Client::new(&["s1"]);
    ctx.setup("claudeSessionHistory = [\"s1\"]");
    let spawn = |id: &'static str| {
        let c = Arc::clone(&c);
        thread::Builder::new().name(format!("handler {id}")).spawn(move || handle(&c, id, "s0", fixed)).unwrap()
    };
    let (a, b) = (spawn("s2"), spawn("s3"));
    a.join().unwrap();
    b.join().unwrap();
    let h = c.claude_session_history.inspect(|h| h.clone());
    ctx.end(format!("claudeSessionHistory = {h:?}"));
    let lost: Vec<&str> = ["s1", "s2", "s3"].into_iter().filter(|id| !h.iter().any(|x| x == id)).collect();
    ctx.check(&KEPT, lost.is_empty(), || format!("{} was appended but the history is {h:?}", lost.join(", ")));
}

/// `TestConcurrentSessionHistory`, with `goroutines` goroutines (`wg.Wait()` is the joins).
fn audit_test(ctx: &Ctx, locked: bool) {
    let n = ctx.param("goroutines");
    let c = Client::new(&[]);
    let wg: Vec<_> = (0..n)
        .map(|i| {
            let c = Arc::clone(&c);
            thread::Builder::new()
                .name(format!("goroutine {i}"))
                .spawn(move || c.add_session_to_history(format!("session-{i}"), locked))
                .unwrap()
        })
        .collect();
    wg.into_iter().for_each(|g| g.join().unwrap());
    let got = c.get_session_history().len();
    ctx.end(format!("len(GetSessionHistory()) = {got}"));
    ctx.check(&ALL_RECORDED, got == n, || {
        format!("Lost session updates due to race condition: {got} of {n} sessions recorded")
    });
}

/// Witness: the appends of the test's goroutines were stored in another order than spawn order,
/// so the goroutines really ran concurrently rather than one after the other.
fn appended_out_of_order(t: &Trace) -> bool {
    let writers: Vec<usize> =
        t.steps().filter(|s| s.call.starts_with("write(claudeSessionHistory")).map(|s| s.thread).collect();
    writers.windows(2).any(|w| w[0] > w[1])
}

static GOROUTINES: [Param; 1] = [Param {
    name: "goroutines",
    default: 3,
    min: 2,
    max: 100,
    summary: "goroutines calling AddSessionToHistory (the audit's test uses 100)",
}];

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "session-history",
    summary: "claudeSessionHistory is read under processMutex, then appended to after it is released",
    source: Source { seed: "004_d81902ba399f928a.txt", section: "1. Session History Corruption" },
    variants: &[
        Variant {
            name: "buggy",
            expect: Expect::Counterexample,
            summary: "read under processMutex, append with no lock",
            body: &|ctx| handlers(ctx, false),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "audit-fix",
            expect: Expect::Holds,
            summary: "sessionMutex (RWMutex): GetSessionHistory under RLock, AddSessionToHistory under Lock",
            body: &|ctx| handlers(ctx, true),
            witnesses: &[Witness {
                name: "the two handlers overlapped",
                reached: |t| t.interleaved("handler s2", "handler s3"),
            }],
            ..Variant::DEFAULTS
        },
        Variant {
            name: "audit-test",
            expect: Expect::Holds,
            summary: "the audit's TestConcurrentSessionHistory against AddSessionToHistory",
            body: &|ctx| audit_test(ctx, true),
            witnesses: &[Witness {
                name: "the goroutines appended out of spawn order",
                reached: appended_out_of_order,
            }],
            params: &GOROUTINES,
            ..Variant::DEFAULTS
        },
        Variant {
            name: "audit-test-unfixed",
            expect: Expect::Counterexample,
            summary: "the same test against the append as audited (no lock)",
            body: &|ctx| audit_test(ctx, false),
            params: &GOROUTINES,
            ..Variant::DEFAULTS
        },
    ],
};
