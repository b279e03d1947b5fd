#!/usr/bin/env python3
"""Builds a Python stage or gate into a component with componentize-py, unless the
component is newer than every source it is made of (componentize-py itself always
rebuilds, in about half a minute). The `build` command of a Python stage in
pipeline.toml:

    build = "python3 guest/python/build.py --world stage --app app --wit wit --out stage.wasm --path my-stage"

`--path` folders are searched for modules (the app's and this SDK's, which is added
automatically from this file's folder). componentize-py is the pinned one from
`guest/python/requirements.txt` (`python3 -m pip install -r guest/python/requirements.txt`).
"""

import argparse
import os
import sys
from pathlib import Path


def newest_source(paths, wit: Path) -> float:
    newest = wit.stat().st_mtime if wit.is_file() else 0.0
    for folder in list(paths) + ([wit] if wit.is_dir() else []):
        for root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if d not in ("__pycache__", "wit_world", ".pytest_cache")]
            for name in files:
                if name.endswith((".py", ".wit")):
                    newest = max(newest, (Path(root) / name).stat().st_mtime)
    return newest


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
    try:
        from componentize_py import script  # noqa: F401
    except ImportError:
        print(
            "componentize-py is not installed: python3 -m pip install -r "
            f"{sdk / 'requirements.txt'}",
            file=sys.stderr,
        )
        return 2
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
