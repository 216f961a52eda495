//! The same source as `tests/same_source_model.rs`, on a real directory with `std::fs`: the code
//! does what it says when nothing runs beside it, and the registry keeps every pane when real
//! threads register at once under `RegistryLock`.
#![cfg(not(feature = "model"))]

use std::path::PathBuf;
use user_findings::registry;
use user_findings::worker_state::{read_all, write_state, write_state_fixed, State};

/// A fresh directory under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("user-findings-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn write_state_and_read_all_on_a_real_directory() {
    let d = TempDir::new("ws");
    let s = State { id: "w".into(), v: 1 };
    write_state(&d.0, &s).unwrap();
    assert_eq!(read_all(&d.0).unwrap(), std::slice::from_ref(&s));
    let s2 = State { id: "w".into(), v: 2 };
    write_state_fixed(&d.0, &s2, "1").unwrap();
    assert_eq!(read_all(&d.0).unwrap(), [s2]);
    // A cut file is deleted as corrupt, as the audit describes.
    std::fs::write(d.0.join("w.json"), b"{\"id\":\"w\",").unwrap();
    assert!(read_all(&d.0).unwrap().is_empty());
    assert!(!d.0.join("w.json").exists());
}

#[test]
fn the_registry_keeps_every_pane_of_real_threads_under_its_lock() {
    for round in 0..20 {
        let d = TempDir::new(&format!("reg{round}"));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let dir = d.0.clone();
                std::thread::spawn(move || registry::register(&dir, &format!("%{i}"), &format!("{i}"), true).unwrap())
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let mut panes = registry::load(&d.0).unwrap();
        panes.sort();
        assert_eq!(panes, ["%0", "%1", "%2", "%3"], "round {round}");
    }
}
