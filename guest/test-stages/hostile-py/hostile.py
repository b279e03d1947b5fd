"""`hostile` in Python: misbehaves in the way its config's `mode` names. It implements
the raw WIT export rather than the SDK's `Stage` (except for `sdk-exception`), so that
it can return what the SDK would never let through (output that is not JSON) and
raise past it."""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import memory, types

import baton_sdk


class Raising(baton_sdk.Stage):
    def run(self, ctx):
        return {"ratio": 1 / len(ctx.config.get("empty", []))}


_SDK = baton_sdk.stage_world(Raising())

# What `remember` left behind in earlier runs of this instance's memory.
_REMEMBERED = []


class WitWorld(wit_world.WitWorld):
    def run(self, ctx: types.Context) -> str:
        mode = json.loads(ctx.config or "{}").get("mode", "ok")
        if mode == "ok":
            return json.dumps({"ok": True})
        if mode == "remember":
            # 8 MiB of marked memory left behind: a fresh memory finds only this run's.
            _REMEMBERED.append(bytearray(b"\xab" * (8 << 20)))
            return json.dumps({"runs": len(_REMEMBERED)})
        if mode == "loop":
            n = 0
            while True:
                n += 1
        if mode == "memory-bomb":
            hoard = []
            while True:
                hoard.append(bytearray(1 << 20))
        if mode == "undeclared-read":
            try:
                entry = memory.get(ctx.namespace, "secrets/api-token")
            except Err as e:
                raise Err(types.StageError_Memory(e.value))
            return json.dumps({"read": entry is not None})
        if mode == "exception":
            raise KeyError("no such field: `components`")
        if mode == "sdk-exception":
            return _SDK().run(ctx)
        if mode == "not-json":
            return "this is not JSON {"
        raise Err(types.StageError_Failed(f"unknown mode {mode!r}"))
