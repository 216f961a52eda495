//! stale-lock's `fixed` lock on the real OS: a persistent lock file guarded by `flock`
//! (`std::fs::File::lock`), contended by several real processes, one of which is killed while it
//! holds the lock. The kernel must release a dead holder's lock (so nothing stale is ever left to
//! clean up), and no two processes may ever be inside the critical section at once.
//!
//! The children are this test binary run again: the environment variable [`CHILD`] tells the
//! `child_process` test to act as one child (without it, that test does nothing). Every child
//! appends `enter <id>` and `leave <id>` to a shared log opened with `O_APPEND` while it holds the
//! lock; the parent appends `kill <id>` just before it kills the victim, which is inside the
//! critical section at that moment, and checks afterwards that the log is well nested.
//!
//! The run has three phases, ordered by lines the children print and bytes the parent sends, not
//! by a clock: (1) all children contend, until the victim is about to start its round
//! `VICTIM_AT` and every other child has paused halfway, both outside the critical section;
//! (2) the victim takes the lock and stays inside, the others are let go and block on the lock it
//! holds, and the parent kills the victim there; (3) the survivors contend for the rest of their
//! rounds.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The environment variable that makes `child_process` act as child `<id>`.
const CHILD: &str = "STALE_LOCK_REAL_CHILD";
/// The directory holding the lock file and the log.
const DIR: &str = "STALE_LOCK_REAL_DIR";
/// Children, victim included.
const CHILDREN: usize = 4;
/// Critical sections per surviving child.
const ITERATIONS: usize = 50;
/// The victim is killed inside its critical section number `VICTIM_AT` (counting from 1).
const VICTIM_AT: usize = 10;
/// The id of the child that is killed.
const VICTIM: usize = 0;
/// What the victim prints before its last round, which it starts when the parent says so.
const READY: &str = "STALE-LOCK-REAL-READY";
/// What the victim prints once it holds the lock.
const HOLDING: &str = "STALE-LOCK-REAL-HOLDING";
/// What every other child prints when it pauses halfway, outside the critical section.
const MIDWAY: &str = "STALE-LOCK-REAL-MIDWAY";
/// What every other child prints once it is let go, right before it asks for the lock.
const CONTENDING: &str = "STALE-LOCK-REAL-CONTENDING";

fn lock_path(dir: &Path) -> PathBuf {
    dir.join("checkpoint.lock")
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("critical.log")
}

/// Appends one line with a single `write` (`O_APPEND` makes each write land whole at the end).
fn append(log: &mut File, line: &str) {
    log.write_all(format!("{line}\n").as_bytes()).expect("append to the log");
}

/// Waits for one byte from the parent; if stdin closes instead, the parent is gone: exit without
/// leaving, which the parent's log check would report.
fn wait_for_parent() {
    if std::io::stdin().read_exact(&mut [0u8; 1]).is_err() {
        std::process::exit(3);
    }
}

/// One child: `ITERATIONS` critical sections under the lock, or, for the victim, `VICTIM_AT`, the
/// last of which it never leaves.
fn child(id: usize, dir: &Path) {
    // The fix: a persistent lock file, never removed; the kernel's flock is the lock.
    let lock = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(lock_path(dir)).unwrap();
    let mut log = OpenOptions::new().append(true).create(true).open(log_path(dir)).unwrap();
    let rounds = if id == VICTIM { VICTIM_AT } else { ITERATIONS };
    for round in 1..=rounds {
        if id != VICTIM && round == ITERATIONS / 2 + 1 {
            println!("{MIDWAY}");
            wait_for_parent();
            println!("{CONTENDING}");
        }
        if id == VICTIM && round == VICTIM_AT {
            println!("{READY}");
            wait_for_parent();
        }
        lock.lock().expect("flock(LOCK_EX)");
        append(&mut log, &format!("enter {id}"));
        // Inside: nobody else may have written since our own enter.
        let seen = std::fs::read_to_string(log_path(dir)).unwrap();
        assert_eq!(seen.lines().last(), Some(format!("enter {id}").as_str()), "child {id} saw another process inside");
        std::thread::yield_now();
        if id == VICTIM && round == VICTIM_AT {
            println!("{HOLDING}");
            // Wait inside the critical section until the parent kills us.
            wait_for_parent();
            std::process::exit(3);
        }
        append(&mut log, &format!("leave {id}"));
        lock.unlock().expect("flock(LOCK_UN)");
    }
}

#[test]
fn child_process() {
    let (Ok(id), Ok(dir)) = (std::env::var(CHILD), std::env::var(DIR)) else { return };
    child(id.parse().expect("a child id"), Path::new(&dir));
}

/// Reads `child`'s stdout until a line containing `token`.
fn wait_for(out: &mut impl BufRead, token: &str) {
    let mut line = String::new();
    loop {
        line.clear();
        let n = out.read_line(&mut line).expect("read a child's stdout");
        assert!(n > 0, "the child ended before printing {token}");
        if line.contains(token) {
            return;
        }
    }
}

/// Checks that the log is well nested: nobody enters while another is inside, everyone leaves
/// what they entered, and the victim is inside when it is killed. Returns the enters per child and
/// the enters after the kill.
fn check_nesting(log: &str) -> (Vec<usize>, usize) {
    let mut inside: Option<usize> = None;
    let mut enters = vec![0; CHILDREN];
    let mut after_kill = None;
    for (n, line) in log.lines().enumerate() {
        let (what, who) = line.split_once(' ').unwrap_or_else(|| panic!("line {n}: {line:?}"));
        let who: usize = who.parse().unwrap();
        match what {
            "enter" => {
                assert_eq!(inside, None, "line {n}: {who} entered while {inside:?} was inside\n{log}");
                inside = Some(who);
                enters[who] += 1;
                if let Some(k) = after_kill.as_mut() {
                    *k += 1;
                }
            }
            "leave" => {
                assert_eq!(inside, Some(who), "line {n}: {who} left without being inside\n{log}");
                inside = None;
            }
            "kill" => {
                assert_eq!(inside, Some(who), "line {n}: the victim was not inside when killed\n{log}");
                inside = None;
                after_kill = Some(0);
            }
            _ => panic!("line {n}: {line:?}"),
        }
    }
    assert_eq!(inside, None, "someone never left\n{log}");
    (enters, after_kill.expect("the victim was killed"))
}

/// A running child with its pipes.
struct Running {
    child: Child,
    out: BufReader<ChildStdout>,
    input: ChildStdin,
}

fn spawn_child(id: usize, dir: &Path) -> Running {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_process", "--nocapture", "--test-threads=1"])
        .env(CHILD, id.to_string())
        .env(DIR, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn a child");
    let out = BufReader::new(child.stdout.take().unwrap());
    let input = child.stdin.take().unwrap();
    Running { child, out, input }
}

#[test]
fn flock_excludes_and_survives_a_killed_holder() {
    let dir = tempfile::tempdir().unwrap();
    let mut all: Vec<Running> = (0..CHILDREN).map(|id| spawn_child(id, dir.path())).collect();
    let mut victim = all.remove(VICTIM);
    let mut others = all;

    // Phase 1 ends: the victim and every other child wait outside the critical section.
    wait_for(&mut victim.out, READY);
    for c in &mut others {
        wait_for(&mut c.out, MIDWAY);
    }
    // Phase 2: the victim enters and stays inside.
    victim.input.write_all(b"g").unwrap();
    wait_for(&mut victim.out, HOLDING);
    // The victim is inside and waits to be killed: the lock is held, by a live process.
    let probe = File::open(lock_path(dir.path())).unwrap();
    assert!(
        matches!(probe.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        "the lock must be held while the victim is inside"
    );
    // The others ask for the lock the victim holds; then the victim is killed, inside.
    for c in &mut others {
        c.input.write_all(b"g").unwrap();
        wait_for(&mut c.out, CONTENDING);
    }
    let mut log = OpenOptions::new().append(true).open(log_path(dir.path())).unwrap();
    append(&mut log, &format!("kill {VICTIM}"));
    victim.child.kill().unwrap();
    let status = victim.child.wait().unwrap();
    assert!(!status.success(), "the victim was killed: {status}");

    // Phase 3: the survivors finish their rounds.
    for mut c in others {
        let mut rest = String::new();
        c.out.read_to_string(&mut rest).unwrap();
        let status = c.child.wait().unwrap();
        assert!(status.success(), "a surviving child failed: {status}\n{rest}");
    }
    // The dead holder's lock was released by the kernel: it can be taken again, and nothing was
    // left to clean up (the lock file is the same persistent file).
    probe.try_lock().expect("the lock is free once every child is gone");

    let text = std::fs::read_to_string(log_path(dir.path())).unwrap();
    let (enters, after_kill) = check_nesting(&text);
    assert_eq!(enters[VICTIM], VICTIM_AT, "{text}");
    for (id, n) in enters.iter().enumerate().filter(|(id, _)| *id != VICTIM) {
        assert_eq!(*n, ITERATIONS, "child {id}\n{text}");
    }
    assert!(after_kill > 0, "nobody acquired the lock after the kill\n{text}");
    println!(
        "{} critical sections, {after_kill} of them after the kill; enters per child {enters:?}",
        text.lines().filter(|l| l.starts_with("enter")).count()
    );
}
