//! Seed 004, "1. Session History Corruption": `claudeSessionHistory` is read under
//! `processMutex`, then appended to after the mutex is released; two handlers can lose an ID.
use interleave::sync::{Arc, Mutex, RwLock, Shared};
use interleave::{thread, Ctx, Expect, Invariant, Scenario, Source, Variant, Witness};

static KEPT: Invariant = Invariant { name: "every session ID appended is kept" };

struct Client {
    process_mutex: Mutex<()>,
    session_mutex: RwLock<()>, // the audit's fix: a RWMutex for the history alone
    history: Shared<Vec<&'static str>>,
}

/// A websocket handler: read the sessions to try, later append the new session's ID.
fn handle(c: &Client, id: &'static str, fixed: bool) {
    let locked = (!fixed).then(|| c.process_mutex.lock().unwrap());
    let read_locked = fixed.then(|| c.session_mutex.read().unwrap()); // GetSessionHistory
    let _to_try = c.history.get();
    drop((locked, read_locked));
    let _w = fixed.then(|| c.session_mutex.write().unwrap()); // AddSessionToHistory
    let mut h = c.history.get(); // append(history, id): read the slice …
    h.push(id);
    c.history.set(h); // … and write it back: the audit's "RACE!"
}

fn run(ctx: &Ctx, fixed: bool) {
    let c = Arc::new(Client {
        process_mutex: Mutex::named("processMutex", ()),
        session_mutex: RwLock::named("sessionMutex", ()),
        history: Shared::named("claudeSessionHistory", vec!["s1"]),
    });
    let spawn = |id| {
        let c = Arc::clone(&c);
        thread::Builder::new().name(format!("handler {id}")).spawn(move || handle(&c, id, fixed)).unwrap()
    };
    let (a, b) = (spawn("s2"), spawn("s3"));
    a.join().unwrap();
    b.join().unwrap();
    let h = c.history.inspect(|h| h.clone());
    ctx.check(&KEPT, h.len() == 3, || format!("history is {h:?}: an appended ID was lost"));
}

pub static SCENARIO: Scenario = Scenario {
    name: "session-history",
    summary: "claudeSessionHistory appended outside processMutex",
    source: Source { seed: "004_d81902ba399f928a.txt", section: "1. Session History Corruption" },
    variants: &[
        Variant { name: "buggy", expect: Expect::Counterexample, body: &|c| run(c, false), ..Variant::DEFAULTS },
        Variant {
            name: "fixed",
            expect: Expect::Holds,
            body: &|c| run(c, true),
            witnesses: &[Witness {
                name: "the handlers overlapped",
                reached: |t| t.interleaved("handler s2", "handler s3"),
            }],
            ..Variant::DEFAULTS
        },
    ],
};
