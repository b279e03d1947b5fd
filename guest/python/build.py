#!/usr/bin/env python3
"""Builds a Python stage or gate into a component with componentize-py, unless the
component is newer than every source it is made of (componentize-py itself always
rebuilds, in about half a minute). The `build` command of a Python stage in
pipeline.toml:

    build = "python3 guest/python/build.py --world stage --app app --wit wit --out stage.wasm --path my-stage"

`--path` folders are searched for modules (the app's and this SDK's, which is added
automatically from this file's folder). componentize-py is the version pinned in
`requirements.txt` beside this file. When the running Python lacks that version, it is
fetched on first use, as cargo fetches crates: into a virtual environment under
`$BATON_TOOL_CACHE` (default `$XDG_CACHE_HOME/baton/tools`, else `~/.cache/baton/tools`),
made once and reused by every project; the build then runs there.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

TOOL = "componentize-py"


def newest_source(paths, wit: Path) -> float:
    newest = wit.stat().st_mtime if wit.is_file() else 0.0
    for folder in list(paths) + ([wit] if wit.is_dir() else []):
        for root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if d not in ("__pycache__", "wit_world", ".pytest_cache")]
            for name in files:
                if name.endswith((".py", ".wit")):
                    newest = max(newest, (Path(root) / name).stat().st_mtime)
    return newest


def pinned(sdk: Path) -> str:
    """The pinned version of componentize-py, from requirements.txt."""
    for line in (sdk / "requirements.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        if name.strip() == TOOL:
            return version.strip()
    raise SystemExit(f"build.py: {sdk / 'requirements.txt'} pins no {TOOL}")


def installed_version():
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version(TOOL)
    except PackageNotFoundError:
        return None


def tool_cache() -> Path:
    if os.environ.get("BATON_TOOL_CACHE"):
        return Path(os.environ["BATON_TOOL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "baton" / "tools"


def fetched_python(version: str) -> Path:
    """The Python of the cached environment holding componentize-py `version`, made
    (and the tool fetched from PyPI) on first use. A half-made environment is never
    used: it is marked complete only after pip succeeded."""
    venv = tool_cache() / f"{TOOL}-{version}"
    python = venv / "bin" / "python"
    done = venv / ".complete"
    if done.is_file():
        return python
    print(f"build.py: fetching {TOOL} {version} into {venv} (first use)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"{TOOL}=={version}"],
        check=True,
    )
    done.write_text(version + "\n")
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", required=True, choices=["stage", "gate", "renderer"])
    parser.add_argument("--app", required=True, help="the module defining `WitWorld`")
    parser.add_argument("--wit", required=True, type=Path, help="wit/baton.wit or its folder")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--path", action="append", default=[], type=Path)
    args = parser.parse_args()
    sdk = Path(__file__).resolve().parent
    paths = args.path + [sdk]
    if args.out.is_file() and args.out.stat().st_mtime >= newest_source(paths, args.wit):
        return 0
    version = pinned(sdk)
    if installed_version() != version:
        if os.environ.get("BATON_BUILD_FETCHED"):
            print(f"build.py: the fetched {TOOL} is not {version}", file=sys.stderr)
            return 2
        try:
            python = fetched_python(version)
        except (OSError, subprocess.CalledProcessError) as e:
            print(
                f"build.py: cannot fetch {TOOL} {version} ({e}); install it with "
                f"python3 -m pip install -r {sdk / 'requirements.txt'}",
                file=sys.stderr,
            )
            return 2
        env = dict(os.environ, BATON_BUILD_FETCHED="1")
        return subprocess.run([str(python), __file__, *sys.argv[1:]], env=env).returncode
    args.out.parent.mkdir(parents=True, exist_ok=True)
    argv = ["componentize-py", "-d", str(args.wit), "-w", args.world, "componentize", args.app]
    for p in paths:
        argv += ["-p", str(p)]
    argv += ["-o", str(args.out)]
    sys.argv = argv
    from componentize_py import script

    try:
        script()
    except SystemExit as e:
        return int(e.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
