//! The memory on PostgreSQL (a throwaway server, `tests/support/postgres.rs`): the
//! command line and a pipeline run work on it as on sled, sixteen processes storing at
//! once lose nothing, and its errors name the database, not a path. The model test of
//! both backends is in `memory_model`.

use serde_json::json;

use crate::harness::{Project, component};
use crate::memory_concurrency::{
    sixteen_workers_store_a_hundred_keys_each,
    writers_killed_with_sigkill_lose_no_acknowledged_write,
};

/// A project whose `pipeline.toml` puts its memory in a fresh database.
fn on_postgres(stages: &str) -> Option<(Project, String)> {
    let url = crate::postgres::database()?;
    let p = Project::with_manifest(&format!(
        "[pipeline]\nname = \"pg\"\nnamespace = \"coding-pipeline\"\n\n[memory]\nurl = \"{url}\"\nretention = 3\n{stages}"
    ));
    Some((p, url))
}

#[test]
fn sixteen_processes_storing_a_hundred_keys_each_on_postgres_lose_nothing() {
    let Some((p, _)) = on_postgres("") else {
        return;
    };
    sixteen_workers_store_a_hundred_keys_each(&p, "never");
    let listed = p.run(&["memory", "list", "--json"]).json();
    assert_eq!(listed.as_array().unwrap().len(), 1600);
    for w in [0, 7, 15] {
        assert_eq!(
            p.run(&["memory", "retrieve", &format!("w{w}/k99")]).ok(),
            "99\n"
        );
    }
    assert!(
        !p.store().exists(),
        "nothing was written to .baton/store: the memory is the database"
    );
}

#[test]
fn a_writer_killed_with_sigkill_on_postgres_loses_no_acknowledged_write() {
    let Some((p, _)) = on_postgres("") else {
        return;
    };
    writers_killed_with_sigkill_lose_no_acknowledged_write(&p);
}

#[test]
fn the_command_line_works_on_postgres_as_on_sled() {
    let Some((p, url)) = on_postgres("") else {
        return;
    };
    for v in 1..=5 {
        p.run(&["memory", "store", "doc", &format!("{{\"v\": {v}}}")])
            .ok();
    }
    assert_eq!(
        p.run(&["memory", "retrieve", "doc"]).json(),
        json!({"v": 5})
    );
    let history = p.run(&["memory", "history", "doc", "--json"]).json();
    let revisions: Vec<u64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["revision"].as_u64().unwrap())
        .collect();
    assert_eq!(revisions, [3, 4, 5], "retention 3, from pipeline.toml");
    p.run(&["memory", "store", "doc", "{}", "--if-revision", "4"])
        .fails(4, &["is at revision 5, not 4"]);
    // A prefix matches literally, its `_` and `%` included, in every namespace.
    for key in ["a_1", "ab", "a%c", "other:a_2"] {
        match key.split_once(':') {
            Some((ns, k)) => p.run(&["memory", "store", k, "1", "-n", ns]).ok(),
            None => p.run(&["memory", "store", key, "1"]).ok(),
        };
    }
    let listed = |args: &[&str]| -> Vec<String> {
        let all = [&["memory", "list", "--json"][..], args].concat();
        p.run(&all)
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{}:{}",
                    m["namespace"].as_str().unwrap(),
                    m["key"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        listed(&["--prefix", "a_"]),
        ["coding-pipeline:a_1", "other:a_2"]
    );
    assert_eq!(
        listed(&["--prefix", "a%", "-n", "coding-pipeline"]),
        ["coding-pipeline:a%c"]
    );
    p.run(&["memory", "delete", "doc"]).ok();
    p.run(&["memory", "retrieve", "doc"])
        .fails(3, &["not found"]);
    // baton's own records are there too: the audit events of those commands.
    let events = p.run(&["events", "--workflow", "cli", "--json"]).json();
    assert!(events.as_array().unwrap().len() >= 7, "{events}");
    // Export from the database, import into a sled store, and back into another
    // database: the same revisions.
    p.run(&["memory", "store", "kept", "[1, 2]"]).ok();
    let export = p.run(&["memory", "export"]).ok();
    let sled = Project::new();
    sled.run_with_stdin(&["memory", "import"], export.clone())
        .ok();
    assert_eq!(sled.run(&["memory", "export"]).ok(), export);
    let Some(other) = crate::postgres::database() else {
        return;
    };
    sled.run_with_stdin(&["--store", &other, "memory", "import"], export.clone())
        .ok();
    assert_eq!(
        sled.run(&["--store", &other, "memory", "export"]).ok(),
        export
    );
    // The stats name the database without a password; the memory server is sled's.
    let stats = p.run(&["memory", "stats", "--json"]).json();
    assert_eq!(stats["store"], url);
    p.run(&["memory", "server", "start"])
        .fails(2, &["the store is the database", "needs no memory server"]);
}

#[test]
fn a_pipeline_runs_on_postgres() {
    let echo = component("echo");
    let Some((p, _)) = on_postgres(&format!(
        "\n[[input]]\nkey = \"in\"\nfile = \"in.json\"\n\n[[stage]]\nname = \"first\"\ncomponent = \"{0}\"\nreads = [\"in\"]\nwrites = \"out/first\"\nconfig = {{ reads = [\"in\"] }}\n\n[[stage]]\nname = \"second\"\ncomponent = \"{0}\"\nreads = [\"out/first\"]\nwrites = \"out/second\"\nconfig = {{ reads = [\"out/first\"] }}\n",
        echo.display()
    )) else {
        return;
    };
    std::fs::write(p.root().join("in.json"), r#"{"n": 1}"#).unwrap();
    let run = p.run(&["run", "--json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let status = p.run(&["status", "--json"]).json();
    assert!(
        status
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "fresh"),
        "{status}"
    );
    let second = p
        .run(&["memory", "retrieve", "out/second", "--json"])
        .json();
    assert_eq!(second["provenance"]["stage"], "second", "{second}");
    // A second run skips both; a changed input re-runs both.
    let again = p.run(&["run", "--json"]).json();
    assert!(
        again["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["outcome"]["status"] == "fresh"),
        "{again}"
    );
    std::fs::write(p.root().join("in.json"), r#"{"n": 2}"#).unwrap();
    let third = p.run(&["run", "--json"]).json();
    assert!(
        third["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["outcome"]["status"] == "passed"),
        "{third}"
    );
}

#[test]
fn a_database_that_cannot_be_reached_is_named_without_its_password() {
    let p = Project::new();
    let err = p
        .run(&[
            "--store",
            "postgres://baton:s3cret@localhost/none?host=/nonexistent-baton-socket",
            "memory",
            "list",
        ])
        .fails(
            5,
            &[
                "database postgres://baton:***@localhost/none",
                "error connecting",
            ],
        );
    assert!(!err.contains("s3cret"), "{err}");
    assert!(!err.contains(".baton/store"), "{err}");
}

#[test]
fn a_connection_the_server_closed_is_replaced_on_the_next_call() {
    use baton::memory::{Key, Namespace, PostgresStore, Store, StoreOptions, Writer};
    let Some(url) = crate::postgres::database() else {
        return;
    };
    let store = PostgresStore::open(&url, StoreOptions::default()).unwrap();
    let (ns, key) = (Namespace::new("n").unwrap(), Key::new("k").unwrap());
    store.put(&Writer::cli(), &ns, &key, json!(1)).unwrap();
    crate::postgres::server().unwrap().drop_connections(&url);
    // The next call finds its connection closed and connects again.
    assert_eq!(store.get(&ns, &key).unwrap().unwrap().json(), json!(1));
    crate::postgres::server().unwrap().drop_connections(&url);
    let meta = store.put(&Writer::cli(), &ns, &key, json!(2)).unwrap();
    assert_eq!(meta.revision, 2);
}

#[test]
fn a_wrong_password_is_refused_and_no_password_is_ever_printed() {
    let Some(server) = crate::postgres::server() else {
        return;
    };
    let url = server.database_with_password("right-horse-battery");
    let with = |password: &str| url.replacen("baton_pw@", &format!("baton_pw:{password}@"), 1);
    let p = Project::new();
    let wrong = with("wrong-staple-9");
    let err = p
        .baton(&["--store", &wrong, "memory", "list"])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&err.stdout),
        String::from_utf8_lossy(&err.stderr)
    );
    assert_eq!(err.status.code(), Some(5), "{text}");
    assert!(
        text.contains("database postgresql://baton_pw:***@localhost/"),
        "{text}"
    );
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(!text.contains("wrong-staple-9"), "{text}");
    // The right one works, and is not printed in the trace logs either.
    let right = with("right-horse-battery");
    let ok = p
        .baton(&["--store", &right, "memory", "store", "k", "1"])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(ok.status.success(), "{text}");
    assert!(!text.contains("right-horse-battery"), "{text}");
}

#[test]
fn a_database_migrated_by_a_newer_baton_is_refused_untouched() {
    let Some(url) = crate::postgres::database() else {
        return;
    };
    let p = Project::new();
    p.run(&["--store", &url, "memory", "store", "k", "1"]).ok();
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .execute("INSERT INTO baton_schema (version) VALUES (99)", &[])
        .unwrap();
    let tables = |admin: &mut postgres::Client| -> Vec<String> {
        admin
            .query(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let revisions = |admin: &mut postgres::Client| -> i64 {
        admin
            .query_one("SELECT count(*) FROM baton_revisions", &[])
            .unwrap()
            .get(0)
    };
    let before = (tables(&mut admin), revisions(&mut admin));
    p.run(&["--store", &url, "memory", "retrieve", "k"]).fails(
        5,
        &[
            "schema is at version 99, newer than this baton knows (version ",
            "upgrade baton",
        ],
    );
    assert_eq!(
        (tables(&mut admin), revisions(&mut admin)),
        before,
        "nothing was created or written"
    );
}
