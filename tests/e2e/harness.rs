//! A temporary baton project and a way to run `baton` in it.

use std::path::{Path, PathBuf};

#[path = "../support/guest.rs"]
mod guest;
use std::process::Output;

/// A temporary folder with a `pipeline.toml`, removed when dropped.
pub struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Project {
    /// A project whose default namespace is `coding-pipeline`.
    pub fn new() -> Self {
        Self::with_manifest("[pipeline]\nname = \"test\"\nnamespace = \"coding-pipeline\"\n")
    }

    /// A project with the given `pipeline.toml`.
    pub fn with_manifest(manifest: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("pipeline.toml"), manifest).expect("write pipeline.toml");
        Self {
            root: dir.path().to_owned(),
            _dir: dir,
        }
    }

    /// A project folder called `name` (in a temporary folder) with no `pipeline.toml`.
    pub fn empty_in(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join(name);
        std::fs::create_dir(&root).expect("create the project folder");
        Self { _dir: dir, root }
    }

    /// The project's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the project's store lives.
    pub fn store(&self) -> PathBuf {
        self.root().join(".baton/store")
    }

    /// `baton` with the given arguments, run in the project folder with a clean environment.
    pub fn baton(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = baton_cmd();
        cmd.current_dir(self.root()).args(args);
        cmd
    }

    /// Runs `baton` and returns its output, whatever its exit code.
    pub fn run(&self, args: &[&str]) -> Run {
        Run(self.baton(args).output().expect("baton runs"))
    }

    /// Runs `baton` with `stdin` and returns its output.
    pub fn run_with_stdin(&self, args: &[&str], stdin: impl Into<Vec<u8>>) -> Run {
        Run(self
            .baton(args)
            .write_stdin(stdin)
            .output()
            .expect("baton runs"))
    }

    /// The live keys of the users' namespaces, as `memory list --json` gives them.
    pub fn keys(&self) -> Vec<String> {
        let listed = self.run(&["memory", "list", "--json"]).json();
        listed
            .as_array()
            .expect("memory list --json gives an array")
            .iter()
            .map(|e| e["key"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// `baton` with the `BATON_*` and `RUST_LOG` variables removed, and no memory server
/// started: each command opens its store itself unless a test starts a server
/// (`tests/e2e/memory_server.rs` covers the server).
pub fn baton_cmd() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(baton_bin());
    cmd.env("BATON_SERVER", "never");
    for var in [
        "BATON_STORE",
        "BATON_NAMESPACE",
        "BATON_AGENT_ID",
        "BATON_RETENTION",
        "BATON_LOCK_TIMEOUT",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// `PATH` with the folder of the `baton` under test first, as an agent's hook, an
/// agent baton starts, or a newcomer would find it.
pub fn path_with_baton() -> String {
    format!(
        "{}:{}",
        baton_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The path of the `baton` binary under test: the one cargo built, or the one
/// `BATON_TEST_BIN` names (CI runs the memory's tests again against the statically
/// linked binary `scripts/static-baton` builds).
pub fn baton_bin() -> PathBuf {
    match std::env::var_os("BATON_TEST_BIN") {
        Some(path) => std::fs::canonicalize(&path)
            .unwrap_or_else(|e| panic!("BATON_TEST_BIN names {path:?}, which cannot be used: {e}")),
        None => assert_cmd::cargo::cargo_bin("baton"),
    }
}

/// A finished `baton` run.
pub struct Run(pub Output);

impl Run {
    /// The exit code.
    pub fn code(&self) -> i32 {
        self.0.status.code().expect("exited normally")
    }
    /// Stdout as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    /// Stderr as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// Stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.0.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout()))
    }
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert_eq!(
            self.code(),
            0,
            "expected success; stderr: {}",
            self.stderr()
        );
        self.stdout()
    }
    /// Asserts the exit code and that stderr contains each of `needles`; returns stderr.
    #[track_caller]
    pub fn fails(&self, code: i32, needles: &[&str]) -> String {
        let err = self.stderr();
        assert_eq!(
            self.code(),
            code,
            "exit code; stdout: {} stderr: {err}",
            self.stdout()
        );
        for needle in needles {
            assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
        }
        assert!(
            self.0.stdout.is_empty(),
            "a failure prints nothing on stdout: {}",
            self.stdout()
        );
        err
    }
}

/// The workspace's top folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// The guest components' build folder.
pub fn guest_target() -> PathBuf {
    repo_root().join("guest/target")
}

/// The path of guest component `name`, built once per test process.
pub fn component(name: &str) -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| guest::build_guests(&repo_root()))
        .join(format!("{name}.wasm"))
}

/// Runs shell `command` in `dir` with this `baton` first on `PATH` (as an agent's hook
/// or a newcomer would run it) and no memory server; asserts that it succeeds and
/// returns its stdout and stderr.
pub fn shell_ok(dir: &Path, command: &str) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", command])
        .current_dir(dir)
        .env("PATH", path_with_baton())
        .env_remove("BATON_STORE")
        .env("BATON_SERVER", "never")
        .output()
        .expect("sh runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "`{command}` failed:\n{text}");
    text
}

/// `found`, after saying so when a tool is missing: the test skips with a visible
/// message, unless CI requires the tool (`CI` or `require_var` set), where its absence
/// fails the test. `what` names the tool and how to install it.
pub fn present_or_skip(found: bool, what: &str, require_var: &str) -> bool {
    if !found {
        let required = std::env::var_os("CI").is_some() || std::env::var_os(require_var).is_some();
        assert!(!required, "{what} is not installed, and CI requires it");
        eprintln!("SKIPPED: {what} is not installed");
    }
    found
}

/// `baton --store STORE ARGS` run from the repository's root: its exit code, stdout
/// and stderr.
pub fn baton_in_repo(store: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = baton_cmd()
        .current_dir(repo_root())
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .expect("baton runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The modes of the hostile test stages in every guest language, each with the limits
/// it runs under: everyone fails but `ok`.
pub const HOSTILE_MODES: [(&str, &str); 7] = [
    ("loop", "limits = { timeout = \"3s\" }"),
    (
        "memory-bomb",
        "limits = { memory = \"96MiB\", timeout = \"20s\" }",
    ),
    ("undeclared-read", ""),
    ("exception", ""),
    ("sdk-exception", ""),
    ("not-json", ""),
    ("ok", ""),
];

/// Runs a pipeline of one stage per hostile mode of `component` (each writing
/// `k/<mode>` in namespace `n`); asserts the run failed, and returns the project and
/// a function giving each failed stage's detail.
pub fn run_hostile(component: &Path) -> (Project, impl Fn(&str) -> String) {
    let mut manifest = String::from("[pipeline]\nname = \"hostile\"\nnamespace = \"n\"\n");
    for (mode, limits) in HOSTILE_MODES {
        manifest.push_str(&format!(
            "\n[[stage]]\nname = \"{mode}\"\ncomponent = \"{}\"\nwrites = \"k/{mode}\"\nconfig = {{ mode = \"{mode}\" }}\n{limits}\n",
            component.display()
        ));
    }
    let p = Project::with_manifest(&manifest);
    let out = p.run(&["run", "--json"]);
    assert_eq!(out.code(), 6, "{}", out.stderr());
    let summary = out.json();
    for (mode, _) in HOSTILE_MODES {
        let stored = p.run(&["memory", "retrieve", &format!("k/{mode}"), "-n", "n"]);
        assert_eq!(
            stored.code() == 0,
            mode == "ok",
            "{mode}: stored only if ok"
        );
    }
    let detail = move |mode: &str| -> String {
        let s = summary["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == mode)
            .unwrap_or_else(|| panic!("no stage {mode}"));
        assert_eq!(s["outcome"]["status"], "failed", "{mode}: {s}");
        s["outcome"]["detail"].as_str().unwrap().to_owned()
    };
    (p, detail)
}

/// The command of the step starting with `prefix` in what `baton stage new` printed,
/// without its comment.
pub fn printed_step(printed: &str, prefix: &str) -> String {
    printed
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` step in:\n{printed}"))
        .split("  #")
        .next()
        .unwrap()
        .trim()
        .to_owned()
}

/// `baton stage new NAME --lang LANG` in a fresh folder outside the checkout: the
/// folder (kept alive by the guard) and what the command printed.
pub fn scaffold(name: &str, lang: &str) -> (tempfile::TempDir, PathBuf, String) {
    let outside = tempfile::tempdir().unwrap();
    let out = baton_cmd()
        .current_dir(outside.path())
        .args(["stage", "new", name, "--lang", lang])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{printed}");
    let dir = outside.path().join(name);
    (outside, dir, printed)
}

/// Runs a scaffolded stage as its printed `baton stage run` step says, in its folder,
/// against the default pipeline's example system; asserts it summarised it.
pub fn run_scaffolded(dir: &Path, printed: &str) {
    std::fs::write(
        dir.join("pipeline.toml"),
        "[pipeline]\nname = \"try\"\nnamespace = \"coding-pipeline\"\n",
    )
    .unwrap();
    let system = repo_root().join("examples/webshop/system.json");
    shell_ok(
        dir,
        &format!(
            "baton memory store coding/architecture/system --file {}",
            system.display()
        ),
    );
    let output = shell_ok(dir, &printed_step(printed, "baton stage run"));
    assert!(output.contains("\"api-gateway\""), "{output}");
    assert!(output.contains("systemSummarised"), "{output}");
}

/// Runs `component`'s `remember` mode (it leaves 8 MiB of marked memory behind in a
/// global and returns how many runs' worth it finds) several times in one runtime, one
/// after another so that each run reuses the instance slot, and the memory pages,
/// the one before it left: every run must find only its own. The instance pool keeps
/// dirtied pages resident between runs and copies them back from the component's
/// image (where the kernel can scan for them; else it zeroes a smaller part): a reset
/// that missed a page would show here as `runs` above 1.
pub fn assert_runs_start_fresh(component: &Path) {
    use baton::memory::SledStore;
    use baton::runtime::{ComponentCache, Invocation, Runtime};
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(ComponentCache::new(cache.path())).unwrap();
    let (plugin, _) = runtime.load(component).unwrap();
    let memory: std::sync::Arc<dyn baton::memory::Store> =
        std::sync::Arc::new(SledStore::temporary().unwrap());
    let mut inv = Invocation::new("remember", "n");
    inv.config = serde_json::json!({ "mode": "remember" });
    for run in 1..=4 {
        let out = runtime
            .run(&plugin, &inv, memory.clone())
            .unwrap_or_else(|e| panic!("run {run} of {component:?}: {e}"));
        assert_eq!(
            out.output,
            serde_json::json!({ "runs": 1 }),
            "run {run} of {component:?} found an earlier run's memory"
        );
    }
}

/// Each stage of a `baton run --json` summary with its outcome's status, in order.
pub fn statuses(summary: &serde_json::Value) -> Vec<(String, String)> {
    summary["stages"]
        .as_array()
        .expect("a run summary")
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap().to_owned(),
                s["outcome"]["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Waits until `path` exists (a scripted agent's marker that it started); panics
/// naming `what` after a minute.
pub fn await_file(path: &Path, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} never happened"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
