//! `baton run` killed with SIGKILL at random moments: the store always opens, and every
//! key holds a whole revision whose provenance and events were committed with it.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use crate::harness::baton_bin;
use crate::pipeline_run::project;

#[test]
fn sigkill_during_run_leaves_every_key_whole_with_its_provenance_and_events() {
    let p = project();
    p.run(&["run"]).ok();
    // Kill within the time a whole run takes, so that kills land at every phase of it.
    // One timed run may be slower than the rest (a cold cache, a busy machine): the
    // window shrinks to any delay by which a run had already ended.
    let started = std::time::Instant::now();
    p.run(&["run", "--force"]).ok();
    let mut run_ms = (started.elapsed().as_millis() as u64).max(20);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash test seed: {seed}");
    let mut killed_mid_run = 0;
    for round in 0..24 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay_ms = (seed >> 33) % run_ms;
        let delay = Duration::from_millis(delay_ms);
        let mut child = Command::new(baton_bin())
            .current_dir(p.root())
            .args(["run", "--force"])
            .env("BATON_SERVER", "never")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        } else {
            run_ms = delay_ms.max(20);
        }
        Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status()
            .unwrap();
        let _ = child.wait();

        // The store opens, and each output is whole and matches its provenance and events.
        for (stage, key) in [
            ("first", "coding/a"),
            ("second", "coding/b"),
            ("third", "coding/c"),
        ] {
            let entry = p.run(&["memory", "retrieve", key, "--json"]).json();
            assert_eq!(
                entry["value"]["stage"], stage,
                "round {round}: {key} is whole"
            );
            assert_eq!(entry["writer"], format!("stage:{stage}"));
            let agent = entry["provenance"]["agent_id"]
                .as_str()
                .unwrap_or_else(|| panic!("round {round}: {key} has provenance"));
            assert_eq!(
                entry["value"]["agent_id"], agent,
                "round {round}: the value and its provenance are from one run"
            );
            let events = p.run(&["events", "--agent", agent, "--json"]).json();
            let names: Vec<&str> = events
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["name"].as_str().unwrap())
                .collect();
            assert!(
                names.contains(&format!("agent.{stage}.completed").as_str()),
                "round {round}: {key}'s events: {names:?}"
            );
        }
    }
    assert!(
        killed_mid_run >= 8,
        "most kills should land mid-run ({killed_mid_run} of 24 did, a run takes {run_ms} ms)"
    );
}
