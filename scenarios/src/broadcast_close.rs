//! # broadcast-close — broadcasting to a client another goroutine closes
//!
//! Source: seed `004_d81902ba399f928a.txt`, "5. Client Map Access" (websocket.go,
//! `BroadcastToSession`).
//!
//! `BroadcastToSession(item, sessionID)` holds `svc.mutex` while it ranges over `svc.clients`,
//! reads each client's `browserSessionID` and writes the item to the matching clients'
//! connections. The audit: "Client struct fields accessed … Client can be modified/closed by
//! another goroutine … Nil pointer dereferences, connection errors". The service mutex guards the
//! set of clients, not the clients: the client's own goroutine changes `browserSessionID` when
//! the browser switches session, and closes the connection when the browser goes away, without
//! `svc.mutex`, removing the client from `svc.clients` only afterwards.
//!
//! The failing interleaving of the code as audited (`buggy`), 1 preemption:
//! 1. the client's goroutine sees the browser leave and closes its connection; it has not yet
//!    removed the client from `svc.clients`;
//! 2. the broadcast locks `svc.mutex`, finds the client in `svc.clients` with session `s1`, and
//!    writes the item to the closed connection: `use of closed network connection`.
//!
//! The data-race detector reports, in the same execution, the unsynchronized accesses of
//! `browserSessionID` (the broadcast's read under `svc.mutex`, the switch without it). What that
//! race permits, an `s1` item written to a client that has just switched to `s2`, is not checked
//! as an invariant of its own: the race already says the read and the write are unordered.
//!
//! `fixed` gives the client's fields to the lock that the broadcast holds: the session switch is
//! made under `svc.mutex`, and the goroutine removes the client from `svc.clients` under
//! `svc.mutex` before it closes the connection (what `defer conn.Close()` registered before the
//! deferred removal does, as deferred calls run last-in first-out). A broadcast that still finds
//! the client wrote its item before the removal, so before the close. It holds, race-free.
//!
//! Modeling choices:
//! - The connection is Go's `net.Conn` behind the websocket: safe for concurrent use (its own
//!   lock, `conn b1` here), and a `Write` after `Close` returns the error rather than crashing. The
//!   audit's "nil pointer dereference" needs code that sets `client.conn = nil` on close, which the
//!   audit does not show; it is not modeled. gorilla/websocket's own panic on two concurrent writers
//!   ("concurrent write to websocket connection") is not reached here: only the broadcast writes.
//! - One client and one broadcast: each symptom needs only these two goroutines.

use interleave::sync::{Arc, Mutex, Shared};
use interleave::{thread, Ctx, Expect, Invariant, Scenario, Source, Trace, Variant, Witness};

/// The audit's "connection errors".
pub static OPEN_ONLY: Invariant = Invariant { name: "no broadcast is written to a closed connection" };

/// What the connection's peer has received, and whether it is closed: `net.Conn`'s own state,
/// behind its own lock.
#[derive(Debug, Default)]
struct ConnState {
    closed: bool,
    received: Vec<&'static str>,
}

/// A client of the service.
struct Client {
    browser_session_id: Shared<&'static str>,
    conn: Mutex<ConnState>,
}

impl Client {
    /// `client.conn.Write(item)`.
    fn write(&self, item: &'static str) -> Result<(), &'static str> {
        let mut c = self.conn.lock().unwrap();
        if c.closed {
            return Err("use of closed network connection");
        }
        c.received.push(item);
        Ok(())
    }

    /// `client.conn.Close()`.
    fn close(&self) {
        self.conn.lock().unwrap().closed = true;
    }
}

/// `ChatService`: the clients, guarded by `mutex`.
struct ChatService {
    mutex: Mutex<()>,
    clients: Shared<Vec<&'static str>>,
    /// The clients by name (the pointers `svc.clients` holds).
    all: Vec<(&'static str, Arc<Client>)>,
}

/// `BroadcastToSession(item, sessionID)`, as audited (and unchanged in `fixed`).
fn broadcast_to_session(ctx: &Ctx, svc: &ChatService, item: &'static str, session_id: &'static str) {
    let _g = svc.mutex.lock().unwrap();
    for name in svc.clients.get() {
        let client = &svc.all.iter().find(|(n, _)| *n == name).expect("a known client").1;
        if client.browser_session_id.get() == session_id {
            if let Err(e) = client.write(item) {
                ctx.check(&OPEN_ONLY, false, || format!("write of {item} to {name}: {e}"));
            }
        }
    }
}

/// The client's goroutine: the browser switches to session `s2`, then goes away.
fn client_goroutine(svc: &ChatService, name: &'static str, fixed: bool) {
    let client = &svc.all.iter().find(|(n, _)| *n == name).expect("a known client").1;
    {
        let _g = fixed.then(|| svc.mutex.lock().unwrap()); // fixed: the switch under svc.mutex
        client.browser_session_id.set("s2");
    }
    let remove = || {
        let _g = svc.mutex.lock().unwrap();
        let mut clients = svc.clients.get();
        clients.retain(|c| *c != name);
        svc.clients.set(clients); // delete(svc.clients, client)
    };
    if fixed {
        remove(); // fixed: out of svc.clients first …
        client.close(); // … then closed
    } else {
        client.close();
        remove();
    }
}

fn run(ctx: &Ctx, fixed: bool) {
    let b1 = Arc::new(Client {
        browser_session_id: Shared::named("b1.browserSessionID", "s1"),
        conn: Mutex::named("conn b1", ConnState::default()),
    });
    let svc = Arc::new(ChatService {
        mutex: Mutex::named("svc.mutex", ()),
        clients: Shared::named("svc.clients", vec!["b1"]),
        all: vec![("b1", Arc::clone(&b1))],
    });
    ctx.setup("svc.clients = [b1]; b1 is in session s1");
    let (s, c) = (Arc::clone(&svc), ctx.clone());
    let bc = thread::Builder::new()
        .name("broadcast".into())
        .spawn(move || broadcast_to_session(&c, &s, "item for s1", "s1"))
        .unwrap();
    let s = Arc::clone(&svc);
    let cl = thread::Builder::new().name("client b1".into()).spawn(move || client_goroutine(&s, "b1", fixed)).unwrap();
    bc.join().unwrap();
    cl.join().unwrap();
    let received = b1.conn.inspect(|c| c.received.clone());
    ctx.end(format!("b1 received {received:?}"));
}

/// Witness of `fixed`: the broadcast took `svc.mutex` after the client's session switch and before
/// the client left `svc.clients` (both under `svc.mutex` there). All three are steps on the one
/// mutex, so every order of the steps in between shows it alike: it does not depend on which
/// order of independent steps a search happens to take.
fn while_leaving(t: &Trace) -> bool {
    let (Some(b), Some(c)) = (t.thread_index("broadcast"), t.thread_index("client b1")) else { return false };
    let locks: Vec<usize> = t
        .steps()
        .filter(|s| s.call == "lock(svc.mutex)" && (s.thread == b || s.thread == c))
        .map(|s| s.thread)
        .collect();
    // The client's two sections and the broadcast's one, in the order they took the mutex.
    locks == [c, b, c]
}

/// The scenario.
pub static SCENARIO: Scenario = Scenario {
    name: "broadcast-close",
    summary:
        "BroadcastToSession writes to clients whose fields and connection their own goroutine changes without svc.mutex",
    source: Source { seed: "004_d81902ba399f928a.txt", section: "5. Client Map Access" },
    variants: &[
        Variant {
            name: "buggy",
            expect: Expect::Counterexample,
            summary: "the client switches session and closes its connection without svc.mutex, then leaves svc.clients",
            body: &|ctx| run(ctx, false),
            ..Variant::DEFAULTS
        },
        Variant {
            name: "fixed",
            expect: Expect::Holds,
            summary: "the switch under svc.mutex; out of svc.clients under svc.mutex before the close",
            body: &|ctx| run(ctx, true),
            witnesses: &[Witness { name: "the broadcast ran while the client was leaving", reached: while_leaving }],
            ..Variant::DEFAULTS
        },
    ],
};
