//! `baton memory …` on a real store on disk: every command, good and bad input.

use serde_json::json;

use crate::harness::{Project, baton_cmd};

const KEY: &str = "coding/architecture/performance";

#[test]
fn store_and_retrieve_in_every_spelling() {
    let p = Project::new();
    p.run(&["memory", "store", KEY, r#"{"slos":[{"target":200}]}"#])
        .ok();
    assert_eq!(
        p.run(&["memory", "retrieve", KEY]).ok(),
        "{\"slos\":[{\"target\":200}]}\n"
    );
    assert_eq!(
        p.run(&["memory", "get", "-k", KEY]).ok(),
        "{\"slos\":[{\"target\":200}]}\n"
    );
    assert_eq!(
        p.run(&[
            "memory",
            "retrieve",
            "--key",
            KEY,
            "--pointer",
            "/slos/0/target"
        ])
        .ok(),
        "200\n"
    );
    p.run(&[
        "memory",
        "store",
        "--key",
        "k2",
        "--value",
        "[1,2]",
        "--namespace",
        "other",
    ])
    .ok();
    assert_eq!(
        p.run(&["memory", "retrieve", "-k", "k2", "-n", "other"])
            .ok(),
        "[1,2]\n"
    );
    // The namespace can come from the environment, as hooks set it.
    let out = p
        .baton(&["memory", "retrieve", "k2"])
        .env("BATON_NAMESPACE", "other")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[1,2]\n");
}

#[test]
fn key_order_of_a_document_is_kept() {
    let p = Project::new();
    p.run(&["memory", "store", "doc", r#"{"z":1,"a":2,"m":3}"#])
        .ok();
    assert_eq!(
        p.run(&["memory", "retrieve", "doc"]).ok(),
        "{\"z\":1,\"a\":2,\"m\":3}\n"
    );
}

#[test]
fn text_that_is_not_json_is_stored_as_a_string_unless_json_is_required() {
    let p = Project::new();
    p.run(&["memory", "store", "note", "hello world"]).ok();
    assert_eq!(p.run(&["memory", "retrieve", "note"]).ok(), "hello world\n");
    assert_eq!(
        p.run(&["memory", "retrieve", "note", "--json"]).json()["value"],
        json!("hello world")
    );
    let err = p
        .run(&["memory", "store", "doc", "{not json", "--json"])
        .fails(
            2,
            &[
                "`doc`",
                "`coding-pipeline`",
                "not valid JSON",
                "line 1 column 2",
            ],
        );
    assert!(err.contains("hint: drop `--json`"), "{err}");
    p.run(&["memory", "retrieve", "doc"])
        .fails(3, &["key `doc` not found"]);
}

#[test]
fn bad_keys_and_namespaces_are_refused_with_the_name_quoted() {
    let p = Project::new();
    p.run(&["memory", "store", "bad\u{1}key", "1"])
        .fails(2, &["invalid key \"bad\\u{1}key\"", "control character"]);
    p.run(&["memory", "store", "", "1"])
        .fails(2, &["invalid key \"\"", "empty"]);
    let long = "k".repeat(600);
    p.run(&["memory", "store", &long, "1"])
        .fails(2, &["limit is 512"]);
    p.run(&["memory", "store", "k", "1", "-n", "tab\tns"])
        .fails(2, &["invalid namespace \"tab\\tns\""]);
    p.run(&["memory", "retrieve"])
        .fails(2, &["no key given", "hint:"]);
    p.run(&["memory", "store", "a", "1", "--key", "b"])
        .fails(2, &["two different keys"]);
    p.run(&["memory", "store", "a", "1", "--ttl", "soon"])
        .fails(2, &["--ttl"]);
}

#[test]
fn a_missing_key_names_the_namespace_and_where_else_it_lives() {
    let p = Project::new();
    p.run(&["memory", "store", "shared", "1", "-n", "elsewhere"])
        .ok();
    let err = p.run(&["memory", "retrieve", "shared"]).fails(
        3,
        &["key `shared` not found in namespace `coding-pipeline`"],
    );
    assert!(
        err.contains(
            "hint: key `shared` exists in namespace `elsewhere`: pass `--namespace elsewhere`"
        ),
        "{err}"
    );
    p.run(&["memory", "retrieve", "nowhere"])
        .fails(3, &["key `nowhere` not found"]);
    p.run(&["memory", "delete", "nowhere"])
        .fails(3, &["key `nowhere` not found"]);
    p.run(&["memory", "history", "nowhere"])
        .fails(3, &["not found"]);
}

#[test]
fn revisions_history_and_compare_and_swap() {
    let p = Project::new();
    for v in ["1", "2", "3"] {
        p.run(&["memory", "store", KEY, v]).ok();
    }
    assert_eq!(
        p.run(&["memory", "retrieve", KEY, "--revision", "1"]).ok(),
        "1\n"
    );
    let meta = p.run(&["memory", "retrieve", KEY, "--json"]).json();
    assert_eq!(meta["revision"], 3);
    assert_eq!(meta["writer"], "cli");
    assert_eq!(meta["size"], 1);
    assert_eq!(meta["sha256"].as_str().unwrap().len(), 64);
    p.run(&["memory", "store", KEY, "4", "--if-revision", "2"])
        .fails(4, &["is at revision 3, not 2"]);
    assert_eq!(
        p.run(&["memory", "store", KEY, "4", "--if-revision", "3", "--json"])
            .json()["revision"],
        4
    );
    p.run(&["memory", "store", "fresh", "1", "--if-revision", "0"])
        .ok();
    p.run(&["memory", "store", "fresh", "1", "--if-revision", "0"])
        .fails(4, &["key `fresh` in namespace `coding-pipeline` already exists (at revision 1): expected none"]);
    // A compare-and-swap on a key that does not exist says so, not "at revision 0".
    p.run(&["memory", "store", "never", "1", "--if-revision", "2"])
        .fails(
            4,
            &["no key `never` in namespace `coding-pipeline`: expected it at revision 2"],
        );
    let history = p.run(&["memory", "history", KEY, "--json"]).json();
    let revs: Vec<u64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["revision"].as_u64().unwrap())
        .collect();
    assert_eq!(revs, [1, 2, 3, 4]);
    // A revision never written is no such revision; a key never written is no key.
    p.run(&["memory", "retrieve", KEY, "--revision", "9"])
        .fails(
            3,
            &[
                "no such revision",
                "has revisions 1 to 4, and 9 was never written",
            ],
        );
    let never = p.run(&["memory", "retrieve", "-k", "never/was", "--revision", "2"]);
    never.fails(
        3,
        &["key `never/was` not found in namespace `coding-pipeline`"],
    );
    assert!(!never.stderr().contains("retained"), "{}", never.stderr());
    p.run(&["memory", "retrieve", KEY, "--pointer", "/nope"])
        .fails(3, &["JSON pointer \"/nope\" selects nothing"]);
}

#[test]
fn retention_keeps_only_the_newest_revisions() {
    let p = Project::with_manifest(
        "[pipeline]\nname = \"r\"\nnamespace = \"ns\"\n[memory]\nretention = 3\n",
    );
    for v in 1..=5 {
        p.run(&["memory", "store", "k", &v.to_string()]).ok();
    }
    let history = p.run(&["memory", "history", "k", "--json"]).json();
    let revs: Vec<u64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["revision"].as_u64().unwrap())
        .collect();
    assert_eq!(revs, [3, 4, 5]);
    p.run(&["memory", "retrieve", "k", "--revision", "2"])
        .fails(3, &["not retained"]);
    // The flag overrides the manifest.
    p.run(&["--retention", "1", "memory", "store", "k", "6"])
        .ok();
    assert_eq!(
        p.run(&["memory", "history", "k", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn delete_writes_a_tombstone_and_keeps_history() {
    let p = Project::new();
    p.run(&["memory", "store", "k", "1"]).ok();
    p.run(&["memory", "delete", "k", "--if-revision", "7"])
        .fails(4, &["not 7"]);
    assert_eq!(
        p.run(&["memory", "delete", "k", "--json"]).json()["deleted"],
        true
    );
    p.run(&["memory", "retrieve", "k"]).fails(3, &["not found"]);
    assert!(
        p.run(&["memory", "list", "--json"])
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    let history = p.run(&["memory", "history", "k", "--json"]).json();
    assert_eq!(history[1]["deleted"], true);
    assert_eq!(
        p.run(&["memory", "store", "k", "\"again\"", "--json"])
            .json()["revision"],
        3
    );
}

#[test]
fn expired_entries_are_gone_everywhere_and_reclaimed() {
    let p = Project::new();
    // Long enough that a loaded machine still searches before it expires.
    let stored = std::time::Instant::now();
    p.run(&[
        "memory",
        "store",
        "short",
        "\"ephemeral needle\"",
        "--ttl",
        "3s",
    ])
    .ok();
    p.run(&[
        "memory",
        "store",
        "long",
        "\"durable needle\"",
        "--ttl",
        "1h",
    ])
    .ok();
    assert_eq!(
        p.run(&["memory", "search", "needle", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let expired = stored + std::time::Duration::from_millis(3_200);
    std::thread::sleep(expired.saturating_duration_since(std::time::Instant::now()));
    p.run(&["memory", "retrieve", "short"])
        .fails(3, &["key `short` not found"]);
    p.run(&["memory", "history", "short"])
        .fails(3, &["not found"]);
    let listed = p.run(&["memory", "list", "--json"]).json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        p.run(&["memory", "search", "needle", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let export = p.run(&["memory", "export"]).ok();
    assert!(!export.contains("ephemeral"), "{export}");
    assert_eq!(
        p.run(&["memory", "stats", "--json"]).json()["stats"]["value_bytes"],
        "\"durable needle\"".len() + "\"ephemeral needle\"".len()
    );
    // The next write reclaims the expired value's space.
    p.run(&["memory", "store", "other", "1"]).ok();
    let stats = p.run(&["memory", "stats", "--json"]).json();
    assert_eq!(
        stats["stats"]["value_bytes"],
        "\"durable needle\"".len() + 1,
        "{stats}"
    );
    // A write after expiry continues the revision count.
    assert_eq!(
        p.run(&["memory", "store", "short", "2", "--json"]).json()["revision"],
        2
    );
}

#[test]
fn a_one_mebibyte_value_through_a_pipe_comes_back_whole() {
    let p = Project::new();
    let text: String = (0..1024 * 1024)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    p.run_with_stdin(&["memory", "store", "big"], text.clone())
        .ok();
    let back = p.run(&["memory", "retrieve", "big"]).ok();
    assert_eq!(back.len(), text.len() + 1);
    assert_eq!(back.trim_end_matches('\n'), text);
    // And a JSON document of the same size, via `--file -`.
    let doc = json!({ "blob": text, "n": [1, 2, 3] });
    let doc_text = serde_json::to_string(&doc).unwrap();
    p.run_with_stdin(
        &["memory", "store", "bigdoc", "--file", "-", "--json"],
        doc_text.clone(),
    )
    .ok();
    assert_eq!(
        p.run(&["memory", "retrieve", "bigdoc"]).ok(),
        doc_text + "\n"
    );
}

#[test]
fn value_from_a_file_and_a_missing_file() {
    let p = Project::new();
    let path = p.root().join("doc.json");
    std::fs::write(&path, "{\"a\": 1}").unwrap();
    p.run(&["memory", "store", "doc", "--file", path.to_str().unwrap()])
        .ok();
    assert_eq!(p.run(&["memory", "retrieve", "doc"]).ok(), "{\"a\":1}\n");
    p.run(&["memory", "store", "doc", "--file", "/no/such/file"])
        .fails(2, &["cannot read the value from \"/no/such/file\""]);
}

#[test]
fn list_search_namespaces_and_stats() {
    let p = Project::new();
    p.run(&["memory", "store", "coding/a", "{\"x\":\"Needle\"}"])
        .ok();
    p.run(&["memory", "store", "coding/b", "2"]).ok();
    p.run(&["memory", "store", "other/c", "3", "-n", "second"])
        .ok();
    let all = p.run(&["memory", "list", "--json"]).json();
    assert_eq!(all.as_array().unwrap().len(), 3);
    let one = p
        .run(&[
            "memory",
            "list",
            "-n",
            "coding-pipeline",
            "--prefix",
            "coding/",
            "--json",
        ])
        .json();
    let keys: Vec<&str> = one
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["coding/a", "coding/b"]);
    let table = p.run(&["memory", "list"]).ok();
    assert!(
        table.starts_with("NAMESPACE") && table.contains("other/c"),
        "{table}"
    );
    let found = p.run(&["memory", "search", "needle", "--json"]).json();
    assert_eq!(found[0]["key"], "coding/a");
    assert_eq!(found[0]["value"]["x"], "Needle");
    assert_eq!(
        p.run(&["memory", "search", "-q", "other/", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        p.run(&["memory", "namespaces", "--json"]).json(),
        json!({"coding-pipeline": 2, "second": 1})
    );
    let stats = p.run(&["memory", "stats", "--json"]).json();
    assert_eq!(stats["stats"]["keys"], 3);
    assert_eq!(stats["stats"]["revisions"], 3);
    assert!(p.run(&["memory", "stats"]).ok().contains("keys        3"));
}

#[test]
fn export_and_import_keep_revisions_and_metadata() {
    let a = Project::new();
    a.run(&["memory", "store", "k", "1"]).ok();
    a.run(&[
        "memory",
        "store",
        "k",
        "{\"v\":2}",
        "--agent",
        "performanceArchitect-0123",
    ])
    .ok();
    a.run(&["memory", "store", "gone", "1"]).ok();
    a.run(&["memory", "delete", "gone"]).ok();
    a.run(&["memory", "store", "n", "\"text\"", "-n", "second"])
        .ok();
    let file = a.root().join("dump.jsonl");
    a.run(&["memory", "export", "-o", file.to_str().unwrap()])
        .ok();
    let dump = std::fs::read_to_string(&file).unwrap();
    assert_eq!(dump.lines().count(), 5, "{dump}");
    assert_eq!(
        a.run(&["memory", "export"]).ok(),
        dump,
        "stdout and file exports agree"
    );
    let schema_path = crate::harness::repo_root().join("schemas/memory-export-record.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the export schema compiles");
    for example in schema["examples"].as_array().unwrap() {
        assert!(
            validator.is_valid(example),
            "the schema's own example validates"
        );
    }
    for line in dump.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&record)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{line}: {errors:?}");
    }
    let tombstone = dump
        .lines()
        .find(|l| l.contains("\"deleted\""))
        .expect("the export has a tombstone");
    let mut tombstone_with_value: serde_json::Value = serde_json::from_str(tombstone).unwrap();
    tombstone_with_value["value"] = json!(1);
    assert!(
        !validator.is_valid(&tombstone_with_value),
        "a tombstone carries no value"
    );

    let b = Project::new();
    let report = b
        .run(&["memory", "import", file.to_str().unwrap(), "--json"])
        .json();
    assert_eq!(report, json!({"imported": 5, "unchanged": 0}));
    assert_eq!(
        b.run(&["memory", "export"]).ok(),
        dump,
        "the import is exact"
    );
    assert_eq!(
        b.run(&["memory", "retrieve", "k", "--json"]).json()["writer"],
        "agent:performanceArchitect-0123"
    );
    b.run(&["memory", "retrieve", "gone"])
        .fails(3, &["not found"]);
    // Importing again changes nothing; importing other content at a revision conflicts.
    assert_eq!(
        b.run_with_stdin(&["memory", "import", "--json"], dump.clone())
            .json(),
        json!({"imported": 0, "unchanged": 5})
    );
    let c = Project::new();
    c.run(&["memory", "store", "k", "different"]).ok();
    c.run(&["memory", "import", file.to_str().unwrap()])
        .fails(4, &["revision 1 of key `k` in namespace `coding-pipeline`"]);
    assert_eq!(
        c.run(&["memory", "list", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing imported"
    );
}

#[test]
fn a_malformed_import_names_the_line_and_writes_nothing() {
    let p = Project::new();
    let good = r#"{"namespace":"ns","key":"a","revision":1,"written_at":"2026-01-01T00:00:00.000Z","writer":"cli","size":1,"sha256":"6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b","value":1}"#;
    p.run_with_stdin(&["memory", "import"], format!("{good}\n{{broken\n"))
        .fails(2, &["standard input line 2", "not an export record"]);
    let tampered = good.replace("\"value\":1", "\"value\":2");
    p.run_with_stdin(&["memory", "import"], tampered)
        .fails(2, &["revision 1 of key `a`", "hashes to"]);
    assert!(
        p.run(&["memory", "list", "--json"])
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    p.run_with_stdin(&["memory", "import"], good).ok();
    assert_eq!(p.run(&["memory", "retrieve", "a", "-n", "ns"]).ok(), "1\n");
}

#[test]
fn the_store_lives_at_the_project_root_never_in_the_working_directory() {
    let p = Project::new();
    let sub = p.root().join("deep/er");
    std::fs::create_dir_all(&sub).unwrap();
    baton_cmd()
        .current_dir(&sub)
        .args(["memory", "store", "k", "1"])
        .assert()
        .success();
    assert!(p.store().is_dir(), "store at the project root");
    assert!(!sub.join(".baton").exists());
    let outside = tempfile::tempdir().unwrap();
    let out = baton_cmd()
        .current_dir(outside.path())
        .args(["memory", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no `pipeline.toml`") && err.contains("hint:"),
        "{err}"
    );
    assert!(
        std::fs::read_dir(outside.path()).unwrap().next().is_none(),
        "nothing made in the working directory"
    );
    // --store and BATON_STORE override it.
    let elsewhere = outside.path().join("s");
    baton_cmd()
        .current_dir(outside.path())
        .args([
            "memory",
            "store",
            "k",
            "1",
            "--store",
            elsewhere.to_str().unwrap(),
        ])
        .assert()
        .success();
    let out = baton_cmd()
        .current_dir(outside.path())
        .env("BATON_STORE", &elsewhere)
        .args(["memory", "retrieve", "k", "-n", "default"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n");
}

#[test]
fn a_store_held_too_long_fails_with_a_message_that_says_so() {
    let p = Project::new();
    p.run(&["memory", "store", "k", "1"]).ok();
    // Hold the store open in this process, then ask the CLI with a short timeout.
    let held = baton::memory::SledStore::open(p.store(), Default::default()).unwrap();
    let started = std::time::Instant::now();
    p.run(&["--lock-timeout", "300ms", "memory", "retrieve", "k"])
        .fails(
            5,
            &[
                "is locked by another process",
                "hint: raise `--lock-timeout`",
            ],
        );
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    drop(held);
    assert_eq!(p.run(&["memory", "retrieve", "k"]).ok(), "1\n");
}

#[test]
fn a_broken_manifest_is_reported_not_ignored() {
    let p = Project::with_manifest("[pipeline\nnamespace = ");
    p.run(&["memory", "list"])
        .fails(2, &["failed to parse", "pipeline.toml"]);
}

#[test]
fn help_explains_each_command() {
    let p = Project::new();
    let help = p.run(&["memory", "--help"]).ok();
    for cmd in [
        "store",
        "retrieve",
        "list",
        "search",
        "delete",
        "history",
        "namespaces",
        "export",
        "import",
        "stats",
    ] {
        assert!(help.contains(cmd), "{cmd} missing from: {help}");
    }
    let store_help = p.run(&["memory", "store", "--help"]).ok();
    assert!(
        store_help.contains("--if-revision") && store_help.contains("--ttl"),
        "{store_help}"
    );
}

#[test]
fn an_interrupted_store_creation_leaves_nothing_in_the_way() {
    let p = Project::new();
    // What a process killed while sled wrote its files leaves: a partial `conf`, in the
    // temporary folder a store is created in before it is renamed into place.
    let leftover = p.root().join(".baton/.store.creating-999999");
    std::fs::create_dir_all(&leftover).unwrap();
    std::fs::write(leftover.join("conf"), "segment_size: 524288\n").unwrap();
    p.run(&["memory", "store", "k", "1"]).ok();
    assert_eq!(p.run(&["memory", "retrieve", "k"]).ok(), "1\n");
    // The same damage in place (not through baton) is reported as a store error naming it.
    let damaged = Project::new();
    std::fs::create_dir_all(damaged.store()).unwrap();
    std::fs::write(damaged.store().join("conf"), "segment_size: 524288\n").unwrap();
    damaged
        .run(&["memory", "list"])
        .fails(5, &["store \"", ".baton/store\"", "corrupted"]);
}

#[test]
fn text_that_starts_like_json_must_be_json_however_deep() {
    let p = Project::new();
    p.run(&["memory", "store", "doc", "{not json"])
        .fails(2, &["`doc`", "not valid JSON", "line 1 column 2"]);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    std::fs::write(p.root().join("deep.json"), &deep).unwrap();
    let err = p
        .run(&["memory", "store", "deep", "--file", "deep.json"])
        .fails(2, &["`deep`", "not valid JSON", "recursion limit exceeded"]);
    assert!(
        err.len() < 1000,
        "the error does not echo the input: {}",
        err.len()
    );
    p.run_with_stdin(&["memory", "store", "deep"], deep)
        .fails(2, &["recursion limit"]);
    p.run(&["memory", "retrieve", "deep"])
        .fails(3, &["not found"]);
    // Within the limit, and text that does not start like JSON, as before.
    let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
    p.run(&["memory", "store", "nested", &ok]).ok();
    p.run(&["memory", "store", "note", "  plain text {with braces}"])
        .ok();
    assert_eq!(
        p.run(&["memory", "retrieve", "note"]).ok(),
        "  plain text {with braces}\n"
    );
}

#[test]
fn a_store_named_by_a_relative_folder_is_created_there() {
    // `--store NAME`: a folder of one component, whose parent is the empty path.
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| baton_cmd().current_dir(dir.path()).args(args).assert();
    run(&[
        "--store",
        "team-memory",
        "memory",
        "store",
        "notes/x",
        r#"{"n":1}"#,
    ])
    .success();
    run(&["--store", "team-memory", "memory", "get", "notes/x"])
        .success()
        .stdout("{\"n\":1}\n");
    assert!(dir.path().join("team-memory").is_dir());
}

#[test]
fn the_log_shows_warnings_alone_unless_v_or_rust_log_asks_for_more() {
    let p = Project::new();
    let stderr = |args: &[&str], rust_log: Option<&str>| {
        let mut cmd = p.baton(args);
        if let Some(filter) = rust_log {
            cmd.env("RUST_LOG", filter);
        }
        let out = cmd.output().expect("baton runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // The store's own debug line ("commit durable") is a debug event of target baton.
    let plain = stderr(&["memory", "store", "k", "1"], None);
    assert!(!plain.contains("commit durable"), "{plain}");
    assert!(!plain.contains("DEBUG"), "{plain}");
    let verbose = stderr(&["-v", "memory", "store", "k", "2"], None);
    assert!(verbose.contains("commit durable"), "{verbose}");
    let filtered = stderr(&["memory", "store", "k", "3"], Some("baton=debug"));
    assert!(filtered.contains("commit durable"), "{filtered}");
    // A directive that leaves baton's debug out is obeyed, not widened.
    let narrow = stderr(&["memory", "store", "k", "4"], Some("warn"));
    assert!(!narrow.contains("commit durable"), "{narrow}");
}
