"""baton's SDK for stages and gates written in Python (built with componentize-py).

A stage subclasses `Stage` and returns its output, any JSON-serialisable value; a
gate subclasses `Gate` and returns findings. `app.py` exports one of them:

    from baton_sdk import Stage, Context, stage_world

    class Summary(Stage):
        def run(self, ctx: Context):
            system = ctx.read("coding/architecture/system")
            names = [c["name"] for c in ctx.read("coding/architecture/system", "/components")]
            ctx.emit("summarised", count=len(names))
            return {"components": names}

    WitWorld = stage_world(Summary())

`ctx.read` returns a key's document parsed; a missing key, or nothing at the JSON
pointer asked for, raises `InputError` naming the key and the pointer, which fails the
stage as the WIT `stage-error.invalid-input`. Raise `StageError` for any other
failure; any other exception fails the stage too, with its traceback. The host
records events as `agent.<agent-name>.<name>`.

The same code runs natively for tests: `Context.for_test(memory={...})` gives a
context over a dictionary, and `run_stage` / `check_gate` call a stage or gate as the
host would (see `test_baton_sdk.py`).
"""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Protocol, Tuple

# Inside the component the WIT bindings must be imported now, at build time:
# componentize-py snapshots the initialised interpreter, and a running component has
# no files to import from. Natively (tests) they do not exist.
try:
    import wit_world as _wit_world  # type: ignore
    from componentize_py_types import Err as _Err  # type: ignore
    from wit_world.imports import log as _log  # type: ignore
    from wit_world.imports import types as _types  # type: ignore
except ImportError:
    _wit_world = None
try:  # world `stage` only
    from wit_world.imports import events as _events  # type: ignore
    from wit_world.imports import memory as _memory  # type: ignore
except ImportError:
    pass

__all__ = [
    "Context",
    "Finding",
    "Gate",
    "InputError",
    "Stage",
    "StageError",
    "check_gate",
    "gate_world",
    "run_stage",
    "stage_world",
]


class StageError(Exception):
    """The stage could not produce its output: fails it with this message."""


class InputError(StageError):
    """An input is missing or malformed: the key, the JSON pointer and what is wrong."""

    def __init__(self, namespace: str, key: str, pointer: str, message: str) -> None:
        super().__init__(f"input `{key}` in namespace `{namespace}`{' at ' + pointer if pointer else ''}: {message}")
        self.namespace = namespace
        self.key = key
        self.pointer = pointer
        self.message = message


@dataclass
class Finding:
    """One problem a gate found: where (a JSON pointer), what it expected, what it found."""

    pointer: str
    expected: str
    actual: str
    message: str


class Host(Protocol):
    """What a stage reaches of the host: the memory (read-only), events and the log."""

    def get(self, namespace: str, key: str) -> Optional[Tuple[int, str]]: ...
    def list_keys(self, namespace: str, prefix: str) -> List[str]: ...
    def emit(self, name: str, attributes_json: str) -> None: ...
    def log(self, level: str, message: str) -> None: ...


_MISSING = object()


def _at_pointer(document: Any, pointer: str) -> Any:
    """The part of `document` at JSON pointer `pointer` (RFC 6901), or `_MISSING`."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must start with `/`")
    part = document
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(part, dict):
            if token not in part:
                return _MISSING
            part = part[token]
        elif isinstance(part, list):
            if not token.isdigit() or int(token) >= len(part):
                return _MISSING
            part = part[int(token)]
        else:
            return _MISSING
    return part


class Context:
    """Where and as whom a stage runs, and its way to the host."""

    def __init__(self, host: Host, *, stage: str, agent_name: str, agent_id: str,
                 workflow_id: str, namespace: str, output_key: str, config: Dict[str, Any]) -> None:
        self._host = host
        self.stage = stage
        self.agent_name = agent_name
        self.agent_id = agent_id
        self.workflow_id = workflow_id
        self.namespace = namespace
        self.output_key = output_key
        self.config = config

    @staticmethod
    def for_test(memory: Optional[Mapping[str, Any]] = None, *, stage: str = "test-stage",
                 namespace: str = "coding-pipeline", config: Optional[Dict[str, Any]] = None) -> "Context":
        """A context over `memory` (`key` or `namespace:key` to a document), for native tests."""
        return Context(FakeHost(memory or {}, namespace), stage=stage, agent_name=stage,
                       agent_id=f"{stage}-test", workflow_id="workflow-test", namespace=namespace,
                       output_key="test/output", config=config or {})

    def read(self, key: str, pointer: str = "", namespace: Optional[str] = None) -> Any:
        """The document at `key` (in the pipeline's namespace unless given), or its part
        at JSON `pointer`. Raises `InputError` when either is missing."""
        ns = namespace or self.namespace
        found = self._host.get(ns, key)
        if found is None:
            raise InputError(ns, key, "", "not found")
        _, text = found
        document = json.loads(text)
        part = _at_pointer(document, pointer)
        if part is _MISSING:
            raise InputError(ns, key, pointer, "nothing at this pointer")
        return part

    def read_optional(self, key: str, namespace: Optional[str] = None) -> Any:
        """The document at `key`, or None when there is none."""
        found = self._host.get(namespace or self.namespace, key)
        return None if found is None else json.loads(found[1])

    def list_keys(self, prefix: str, namespace: Optional[str] = None) -> List[str]:
        """The live keys starting with `prefix` that the stage may read."""
        return self._host.list_keys(namespace or self.namespace, prefix)

    def emit(self, name: str, **attributes: Any) -> None:
        """Records the milestone `agent.<agent-name>.<name>` with `attributes`."""
        self._host.emit(name, json.dumps(attributes))

    def log(self, message: str, level: str = "info") -> None:
        """A diagnostic line in the host's log: trace, debug, info, warn or error."""
        self._host.log(level, message)


class Stage:
    """A pipeline stage: `run` returns the output, any JSON-serialisable value."""

    def run(self, ctx: Context) -> Any:
        raise NotImplementedError


class Gate:
    """A quality gate: `check` returns the findings (none: the document passes)."""

    def check(self, gate: str, document: Any, inputs: List[Tuple[str, str, Any]],
              config: Dict[str, Any]) -> List[Finding]:
        raise NotImplementedError


@dataclass
class FakeHost:
    """A host over a dictionary, for native tests; records events and log lines."""

    memory: Mapping[str, Any]
    namespace: str
    events: List[Tuple[str, Dict[str, Any]]] = field(default_factory=list)
    lines: List[Tuple[str, str]] = field(default_factory=list)

    def _lookup(self, namespace: str, key: str) -> Any:
        if f"{namespace}:{key}" in self.memory:
            return self.memory[f"{namespace}:{key}"]
        if namespace == self.namespace and key in self.memory:
            return self.memory[key]
        return _MISSING

    def get(self, namespace: str, key: str) -> Optional[Tuple[int, str]]:
        value = self._lookup(namespace, key)
        return None if value is _MISSING else (1, json.dumps(value))

    def list_keys(self, namespace: str, prefix: str) -> List[str]:
        keys = [k.split(":", 1)[1] if ":" in k else k for k in self.memory]
        return sorted(k for k in keys if k.startswith(prefix) and self._lookup(namespace, k) is not _MISSING)

    def emit(self, name: str, attributes_json: str) -> None:
        self.events.append((name, json.loads(attributes_json)))

    def log(self, level: str, message: str) -> None:
        self.lines.append((level, message))


def run_stage(stage: Stage, ctx: Context) -> str:
    """Runs `stage` as the host does: its output as JSON text, or `StageError`."""
    try:
        output = stage.run(ctx)
    except StageError:
        raise
    except Exception as e:  # any other exception fails the stage, with its traceback
        raise StageError(f"{type(e).__name__}: {e}\n{traceback.format_exc()}") from e
    try:
        return json.dumps(output)
    except (TypeError, ValueError) as e:
        raise StageError(f"the output is not JSON-serialisable: {e}") from e


def check_gate(gate: Gate, name: str, document: Any, inputs: List[Tuple[str, str, Any]],
               config: Dict[str, Any]) -> List[Finding]:
    """Runs `gate` as the host does; an exception becomes a finding, so that a gate
    that cannot answer never lets a document through."""
    try:
        return list(gate.check(name, document, inputs, config))
    except Exception as e:
        return [Finding("", "the gate to answer", type(e).__name__,
                        f"gate `{name}` raised {type(e).__name__}: {e}")]


# ---------------------------------------------------------------------------------
# Inside the component: the WIT bindings componentize-py generates (`wit_world`).


class _WitHost:
    def get(self, namespace: str, key: str) -> Optional[Tuple[int, str]]:
        entry = _memory.get(namespace, key)
        return None if entry is None else (entry.revision, entry.value)

    def list_keys(self, namespace: str, prefix: str) -> List[str]:
        return _memory.list_keys(namespace, prefix)

    def emit(self, name: str, attributes_json: str) -> None:
        _events.emit(name, attributes_json)

    def log(self, level: str, message: str) -> None:
        _log.log(getattr(_types.Level, level.upper(), _types.Level.INFO), message)


def stage_world(stage: Stage) -> type:
    """The `WitWorld` class componentize-py exports for `stage` (world `stage`)."""
    if _wit_world is None:
        raise ImportError("stage_world needs the WIT bindings: it runs inside the component build")
    types = _types

    class StageWorld(_wit_world.WitWorld):
        def run(self, ctx: "types.Context") -> str:
            context = Context(_WitHost(), stage=ctx.stage, agent_name=ctx.agent_name,
                              agent_id=ctx.agent_id, workflow_id=ctx.workflow_id,
                              namespace=ctx.namespace, output_key=ctx.output_key,
                              config=json.loads(ctx.config or "{}"))
            try:
                return run_stage(stage, context)
            except InputError as e:
                raise _Err(types.StageError_InvalidInput(
                    types.InputError(e.namespace, e.key, e.pointer, e.message)))
            except StageError as e:
                raise _Err(types.StageError_Failed(str(e)))

    return StageWorld


def gate_world(gate: Gate) -> type:
    """The `WitWorld` class componentize-py exports for `gate` (world `gate`)."""
    if _wit_world is None:
        raise ImportError("gate_world needs the WIT bindings: it runs inside the component build")
    types = _types

    class GateWorld(_wit_world.WitWorld):
        def check(self, name: str, document: str, inputs: list, config: str) -> list:
            given = [(i.namespace, i.key, json.loads(i.value)) for i in inputs]
            found = check_gate(gate, name, json.loads(document), given, json.loads(config or "{}"))
            return [types.Finding(f.pointer, f.expected, f.actual, f.message) for f in found]

    return GateWorld
