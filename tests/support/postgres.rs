//! A throwaway PostgreSQL server for the tests and benches (included with `#[path]`):
//! `initdb` into a temporary folder (as the `postgres` user when run as root), a
//! private socket directory and no TCP, started once per process and stopped by a
//! watcher when the process ends, however it ends. Each caller gets a database of its
//! own. Without PostgreSQL installed, [`server`] says so on stderr and returns `None`
//! (the caller skips); with `CI` or `BATON_REQUIRE_POSTGRES` set it panics instead, so
//! CI never skips.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// A running server.
pub struct PgServer {
    socket_dir: PathBuf,
    data: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    port: u16,
    base: PathBuf,
}

static SERVER: OnceLock<Option<PgServer>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);
const PORT: u16 = 5432;

/// The one role that signs in with a password (`scram-sha-256`).
pub const PASSWORD_ROLE: &str = "baton_pw";

/// The process's server, started on first use; `None` when PostgreSQL is not installed.
pub fn server() -> Option<&'static PgServer> {
    SERVER
        .get_or_init(|| {
            let Some(bin) = find_bin() else {
                let required = std::env::var_os("CI").is_some()
                    || std::env::var_os("BATON_REQUIRE_POSTGRES").is_some();
                assert!(
                    !required,
                    "PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin), and CI requires it"
                );
                eprintln!(
                    "SKIPPED: PostgreSQL is not installed (apt-get install postgresql); the PostgreSQL tests did not run"
                );
                return None;
            };
            Some(PgServer::start(bin, PORT, "shared"))
        })
        .as_ref()
}

/// A server of the caller's own, for a test that stops and restarts it; stopped when
/// dropped. `None` as for [`server`].
pub fn private_server() -> Option<PgServer> {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    server()?;
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    Some(PgServer::start(
        find_bin()?,
        PORT + n as u16,
        &format!("private-{n}"),
    ))
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// A fresh database on the process's server, as a `postgresql://` URL; `None` (with
/// the message above) when PostgreSQL is not installed.
pub fn database() -> Option<String> {
    server().map(PgServer::new_database)
}

fn find_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    versions.sort();
    if let Some(bin) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PgServer {
    fn start(bin: PathBuf, port: u16, name: &str) -> Self {
        let as_postgres = is_root();
        let base = std::env::temp_dir().join(format!("baton-pg-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (data, socket_dir) = (base.join("data"), base.join("sock"));
        std::fs::create_dir_all(&socket_dir).unwrap();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&base)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown of {base:?} to postgres failed");
        }
        let server = Self {
            socket_dir,
            data,
            bin,
            as_postgres,
            port,
            base: base.clone(),
        };
        server.run(
            "initdb",
            &[
                "-D",
                server.data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        // One role signs in with a password, for the tests of a wrong one; every other
        // role is trusted on the private socket.
        let hba = server.data.join("pg_hba.conf");
        let trusted = std::fs::read_to_string(&hba).expect("initdb wrote pg_hba.conf");
        std::fs::write(
            &hba,
            format!("local all {PASSWORD_ROLE} scram-sha-256\n{trusted}"),
        )
        .expect("pg_hba.conf is writable");
        // fsync off in the configuration file, not on the command line, so that a
        // benchmark can turn it back on (`ALTER SYSTEM`, then a reload).
        let conf = server.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("initdb wrote postgresql.conf");
        text.push_str("\nfsync = off\n");
        std::fs::write(&conf, text).expect("postgresql.conf is writable");
        assert!(
            server.restart(),
            "the test server did not start (log: {})",
            server.base.join("log").display()
        );
        // Stop the server when this process ends, whichever way it ends.
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {prefix}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {base}",
            pid = std::process::id(),
            prefix = if as_postgres {
                "runuser -u postgres -- "
            } else {
                ""
            },
            pg_ctl = server.bin.join("pg_ctl").display(),
            data = server.data.display(),
            base = base.display(),
        );
        // Deliberately not waited for: it outlives this process to stop the server.
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .args(["-c", &stop])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the watcher starts");
        server
    }

    /// Starts the server (again), waiting until it accepts connections; `false` if
    /// it did not start.
    pub fn restart(&self) -> bool {
        let options = format!(
            "-k {} -p {} -c listen_addresses='' -c max_connections=200",
            self.socket_dir.display(),
            self.port
        );
        let log = self.base.join("log");
        self.pg_ctl(&["-o", &options, "-l", log.to_str().unwrap(), "-w", "start"])
    }

    /// Stops the server at once, as a crash would (`-m immediate`); `false` if
    /// `pg_ctl` failed.
    pub fn stop(&self) -> bool {
        self.pg_ctl(&["-m", "immediate", "-w", "stop"])
    }

    fn pg_ctl(&self, args: &[&str]) -> bool {
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.arg("-D")
            .arg(&self.data)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).output().expect("PostgreSQL's tools run");
        assert!(
            out.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The URL of database `name`, as the trusted superuser.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgresql://postgres@localhost/{name}?host={}&port={}",
            self.socket_dir.display(),
            self.port
        )
    }

    /// A connection to the server as its superuser.
    pub fn admin(&self) -> postgres::Client {
        postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .expect("connect to the test server")
    }

    /// Creates a new, empty database owned by `owner` (the superuser if `None`);
    /// returns its name.
    fn create_database(&self, admin: &mut postgres::Client, owner: Option<&str>) -> String {
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::SeqCst)
        );
        let owner = owner.map(|o| format!(" OWNER {o}")).unwrap_or_default();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}{owner}"))
            .expect("create a test database");
        name
    }

    /// A new, empty database owned by [`PASSWORD_ROLE`], whose password is
    /// `password`: its URL with the user but without a password.
    pub fn database_with_password(&self, password: &str) -> String {
        let mut admin = self.admin();
        admin
            .batch_execute(&format!(
                "DO $$ BEGIN CREATE ROLE {PASSWORD_ROLE} LOGIN; \
                 EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
            ))
            .expect("create the password role");
        admin
            .execute(
                &format!("ALTER ROLE {PASSWORD_ROLE} PASSWORD '{password}'"),
                &[],
            )
            .expect("set its password");
        let name = self.create_database(&mut admin, Some(PASSWORD_ROLE));
        self.url(&name)
            .replacen("postgres@", &format!("{PASSWORD_ROLE}@"), 1)
    }

    /// Creates a new, empty database; returns its URL.
    pub fn new_database(&self) -> String {
        let name = self.create_database(&mut self.admin(), None);
        self.url(&name)
    }

    /// Ends every connection to the database at `url` from the server's side, as a
    /// restart would, leaving the other databases alone.
    pub fn drop_connections(&self, url: &str) {
        let name = url
            .rsplit('/')
            .next()
            .and_then(|tail| tail.split('?').next())
            .expect("a database name");
        let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .expect("connect to the test server");
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[&name],
            )
            .expect("terminate the database's connections");
    }

    /// Turns `fsync` back on, for a benchmark of durable writes (the tests run without).
    pub fn fsync_on(&self) {
        // ALTER SYSTEM refuses to run in a transaction: one statement per call.
        let mut admin = self.admin();
        for statement in ["ALTER SYSTEM SET fsync = on", "SELECT pg_reload_conf()"] {
            admin.batch_execute(statement).expect("turn fsync on");
        }
        // The reload reaches the server's processes asynchronously.
        std::thread::sleep(std::time::Duration::from_millis(500));
        let fsync: String = self.admin().query_one("SHOW fsync", &[]).unwrap().get(0);
        assert_eq!(fsync, "on");
    }

    /// The server's data folder.
    pub fn data(&self) -> &Path {
        &self.data
    }
}
