"""Native tests of the Python SDK: `python3 -m pytest guest/python`."""

import pytest

from baton_sdk import (
    Context,
    Finding,
    Gate,
    InputError,
    Stage,
    StageError,
    check_gate,
    run_stage,
)

SYSTEM = {"components": [{"name": "api", "rps": 120}, {"name": "db"}]}


class Summary(Stage):
    def run(self, ctx):
        names = [c["name"] for c in ctx.read("coding/architecture/system", "/components")]
        ctx.emit("summarised", count=len(names))
        ctx.log(f"{len(names)} components")
        return {"components": names, "stage": ctx.stage}


def test_a_stage_reads_emits_and_returns_json():
    ctx = Context.for_test({"coding/architecture/system": SYSTEM}, stage="summary")
    assert run_stage(Summary(), ctx) == '{"components": ["api", "db"], "stage": "summary"}'
    assert ctx._host.events == [("summarised", {"count": 2})]
    assert ctx._host.lines == [("info", "2 components")]


def test_a_missing_key_or_field_names_the_key_and_the_pointer():
    ctx = Context.for_test({"coding/architecture/system": {"nodes": []}})
    with pytest.raises(InputError) as missing_field:
        ctx.read("coding/architecture/system", "/components/0/name")
    e = missing_field.value
    assert (e.key, e.pointer, e.namespace) == ("coding/architecture/system", "/components/0/name", "coding-pipeline")
    with pytest.raises(InputError) as missing_key:
        Context.for_test({}).read("coding/architecture/data")
    assert missing_key.value.key == "coding/architecture/data"
    assert missing_key.value.message == "not found"


def test_pointers_follow_rfc_6901():
    ctx = Context.for_test({"k": {"a/b": {"m~n": [10, 20]}}})
    assert ctx.read("k", "/a~1b/m~0n/1") == 20
    assert ctx.read("k", "") == {"a/b": {"m~n": [10, 20]}}
    with pytest.raises(InputError):
        ctx.read("k", "/a~1b/m~0n/2")


def test_other_namespaces_and_listing():
    ctx = Context.for_test({"other:x/1": 1, "x/2": 2, "x/3": 3})
    assert ctx.read("x/1", namespace="other") == 1
    assert ctx.read_optional("x/1") is None
    assert ctx.list_keys("x/") == ["x/2", "x/3"]


def test_an_exception_fails_the_stage_with_its_traceback():
    class Broken(Stage):
        def run(self, ctx):
            return {"ratio": 1 / 0}

    with pytest.raises(StageError) as failed:
        run_stage(Broken(), Context.for_test())
    text = str(failed.value)
    assert text.startswith("ZeroDivisionError: division by zero")
    assert "Traceback" in text and "in run" in text


def test_output_that_is_not_json_fails_the_stage():
    class Unserialisable(Stage):
        def run(self, ctx):
            return {"when": object()}

    with pytest.raises(StageError, match="not JSON-serialisable"):
        run_stage(Unserialisable(), Context.for_test())


class EveryComponentNamed(Gate):
    def check(self, gate, document, inputs, config):
        return [
            Finding(f"/components/{i}/name", "a name", "nothing", f"component {i} has no name")
            for i, c in enumerate(document.get("components", []))
            if "name" not in c
        ]


def test_a_gate_returns_findings_and_one_that_raises_fails():
    found = check_gate(EveryComponentNamed(), "named", {"components": [{"name": "a"}, {}]}, [], {})
    assert found == [Finding("/components/1/name", "a name", "nothing", "component 1 has no name")]
    assert check_gate(EveryComponentNamed(), "named", {"components": [{"name": "a"}]}, [], {}) == []
    raised = check_gate(EveryComponentNamed(), "named", [], [], {})
    assert len(raised) == 1 and "raised AttributeError" in raised[0].message
