"""Drives `baton mcp` with the official Python MCP client, as an agent's host would.

Run by the Rust end-to-end tests (tests/e2e/mcp.rs), one scenario per call:

    python3 tests/mcp/client.py SCENARIO [ARGS...]

with BATON_BIN naming the binary and the current directory inside a baton project.
Each scenario asserts what the agent sees and prints one JSON object for the Rust
side, which checks what the CLI sees afterwards.
"""

import asyncio
import json
import os
import statistics
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def server(extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env["BATON_SERVER_IDLE"] = os.environ.get("BATON_SERVER_IDLE", "60s")
    env.update(extra_env or {})
    return StdioServerParameters(command=os.environ["BATON_BIN"], args=["mcp"], env=env, cwd=os.getcwd())


async def call(session, tool, arguments):
    """The tool's structured result, and whether it is a tool error."""
    result = await session.call_tool(tool, arguments)
    body = result.structured_content
    if body is None:
        body = json.loads(result.content[0].text)
    return body, bool(result.is_error)


async def ok(session, tool, arguments):
    body, is_error = await call(session, tool, arguments)
    assert not is_error, f"{tool} failed: {json.dumps(body)[:2000]}"
    return body


MILESTONES = [
    "architectureAnalyzed",
    "scalabilityStrategyDesigned",
    "cachingArchitecturePlanned",
    "databaseOptimized",
    "aiMlOptimized",
    "monitoringFrameworkDesigned",
    "capacityPlanned",
    "performanceTestingPlanned",
    "documentationCreated",
]


async def seed000(workflow, agent, document_file):
    """Seed 000's whole flow: start, nine milestones, a gated store, complete."""
    document = json.load(open(document_file))
    async with stdio_client(server()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            names = {t.name for t in (await s.list_tools()).tools}
            for needed in ["start_agent", "emit_agent_event", "complete_agent", "memory_store", "memory_retrieve"]:
                assert needed in names, names
            base = {"agent_name": "performanceArchitect", "agent_id": agent, "workflow_id": workflow}
            started = await ok(s, "start_agent", {"request": {**base, "parent_agent_id": "main-claude-code"}})
            assert set(started) >= {"success", "event_id", "message", "timestamp"}, started
            assert started["success"] is True
            ids = [started["event_id"]]
            for m in MILESTONES:
                ack = await ok(s, "emit_agent_event", {"request": {**base, "event_name": m, "attributes": {"done": True}}})
                ids.append(ack["event_id"])
            # A draft that breaks a gate is refused with the findings the model can act on.
            broken = json.loads(json.dumps(document))
            broken["caching_strategy"]["caches"][0]["invalidation"]["events"][1] = "product.changed"
            refused, is_error = await call(s, "memory_store", {"key": "coding/architecture/performance", "value": broken, "namespace": "coding-pipeline"})
            assert is_error, refused
            assert refused["kind"] == "gate-failed", refused
            failed = [g for g in refused["gate_report"]["gates"] if not g["passed"]]
            assert failed and all(g["findings"] for g in failed), refused
            finding = failed[0]["findings"][0]
            assert set(finding) >= {"pointer", "expected", "actual", "message"}, finding
            # The real document passes, as a JSON string the way agents often send it.
            stored = await ok(s, "memory_store", {"key": "coding/architecture/performance", "value": json.dumps(document), "namespace": "coding-pipeline", "agent_id": agent})
            assert stored["stored"] and stored["gates"]["passed"], stored
            done = await ok(s, "complete_agent", {"request": {**base, "success": True, "message": "done", "parent_agent_id": "main-claude-code"}})
            ids.append(done["event_id"])
            # Hostile lifecycle calls: a second completion, an unknown agent, a bad id.
            again, is_error = await call(s, "complete_agent", {"request": {**base, "success": True}})
            assert is_error and again["kind"] == "conflict", again
            ghost, is_error = await call(s, "emit_agent_event", {"request": {**base, "agent_id": "ghost-1", "event_name": "x"}})
            assert is_error and ghost["kind"] == "not-found" and "never started" in ghost["error"], ghost
            bad, is_error = await call(s, "start_agent", {"request": {**base, "agent_id": "a/../b"}})
            assert is_error and bad["kind"] == "bad-input", bad
            events = await ok(s, "get_events", {"request": {"limit": 100, "workflow_id": workflow}})
            names = [e["event_type"] for e in events["events"]]
            assert names[0] == "agent.performanceArchitect.started" and names[-1] == "agent.performanceArchitect.completed", names
            assert events["events"][1]["causation_id"] == "main-claude-code", events["events"][1]
            print(json.dumps({"event_ids": ids, "revision": stored["revision"], "events": names}))


async def handoff(namespace):
    """Seed 001's handoff: retrieve the five prior outputs, store one."""
    keys = ["coding/understanding/requirements", "coding/exploration/analysis", "coding/architecture/system", "coding/architecture/data", "coding/architecture/integration"]
    async with stdio_client(server()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            read = {}
            for k in keys:
                got = await ok(s, "memory_retrieve", {"key": k, "namespace": namespace})
                assert got["found"], got
                read[k] = got["revision"]
            # Without the namespace the key is not found, and the answer says where it is.
            missed = await ok(s, "memory_retrieve", {"key": keys[0], "namespace": "default"})
            assert not missed["found"] and any(namespace in h for h in missed["hints"]), missed
            out = await ok(s, "memory_store", {"key": "coding/handoff/summary", "value": {"read": read}, "namespace": namespace, "tags": ["phase-3"]})
            listed = await ok(s, "memory_list", {"namespace": namespace, "limit": 100})
            assert any(e["key"] == "coding/handoff/summary" for e in listed["entries"]), listed
            found = await ok(s, "memory_search", {"query": "handoff summary", "namespace": namespace})
            # Ranked: the key holding both words first, with a real similarity and why.
            top = found["results"][0]
            assert top["key"] == "coding/handoff/summary", found
            assert 0.5 < top["similarity"] < 1 and top["matched"] == ["handoff", "summary"], top
            assert "**handoff**" in top["snippet"], top
            assert all(0 < h["similarity"] <= top["similarity"] for h in found["results"]), found
            # The tag it was stored with is a filter, and the threshold is honoured.
            tagged = await ok(s, "memory_search", {"query": "coding", "namespace": namespace, "tags": ["phase-3"]})
            assert [h["key"] for h in tagged["results"]] == ["coding/handoff/summary"], tagged
            none = await ok(s, "memory_search", {"query": "handoff summary", "namespace": namespace, "threshold": 0.99})
            assert none["total"] == 0, none
            refused = await s.call_tool("memory_search", {"query": "\"\" the", "namespace": namespace})
            assert refused.is_error and "no word to search for" in refused.content[0].text, refused
            beyond = await s.call_tool("memory_search", {"query": "handoff", "namespace": namespace, "threshold": 2})
            assert beyond.is_error and "not from 0 to 1" in beyond.content[0].text, beyond
            history = await ok(s, "memory_history", {"key": "coding/handoff/summary", "namespace": namespace})
            assert len(history["revisions"]) == 1
            status = await ok(s, "pipeline_status", {})
            print(json.dumps({"read": read, "stored": out["revision"], "search": found["total"], "status": status["stages"]}))


async def imported():
    """An imported pipeline through MCP: status says who is ready and which gates are
    prose only; an agent not ready is told what it waits on; outputs go in order."""
    async with stdio_client(server()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            by_name = lambda st: {x["stage"]: x for x in st["stages"]}
            before = by_name(await ok(s, "pipeline_status", {}))
            assert before["requirements-extractor"]["ready"], before
            assert before["codebase-analyzer"]["waiting_on"] == ["requirements-extractor"], before
            waiting, is_error = await call(s, "agent_inputs", {"stage": "codebase-analyzer"})
            assert is_error and "not ready" in waiting["error"], waiting
            await ok(s, "agent_output", {"stage": "requirements-extractor", "value": {"requirements": ["R1"]}})
            inputs = await ok(s, "agent_inputs", {"stage": "codebase-analyzer"})
            assert inputs["inputs"][0]["value"] == {"requirements": ["R1"]}, inputs
            # The brief an agent run by baton gets: its context block and its inputs.
            brief = (await ok(s, "agent_brief", {"stage": "codebase-analyzer"}))["brief"]
            assert "===AGENT_CONTEXT===\nAGENT_ID: " in brief, brief
            assert '"requirements": [\n    "R1"\n  ]' in brief, brief
            # `document`, the name of earlier versions, is still accepted.
            stored = await ok(s, "agent_output", {"stage": "codebase-analyzer", "document": {"modules": []}})
            after = by_name(await ok(s, "pipeline_status", {}))
            print(json.dumps({
                "before": before["system-designer"],
                "after": after["system-designer"],
                "report": stored["report"],
                "done": sorted(k for k, v in after.items() if v["done"]),
            }))


async def decide(stage, by):
    """A person's decision on a held output through MCP: an agent confined to its stage
    may not decide; a rejection needs a reason; the person approves."""
    async with stdio_client(server({"BATON_STAGE": stage})) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            refused, is_error = await call(s, "approve_output", {"stage": stage, "by": "the-agent"})
            assert is_error and "cannot approve" in refused["error"], refused
    async with stdio_client(server()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            held = await ok(s, "held_outputs", {"stage": stage})
            assert len(held) == 1 and held[0]["stage"] == stage, held
            no_reason, is_error = await call(s, "reject_output", {"stage": stage, "by": by})
            assert is_error and "needs a reason" in no_reason["error"], no_reason
            approved = await ok(s, "approve_output", {"stage": stage, "by": by, "reason": "budgets look right"})
            again, is_error = await call(s, "approve_output", {"stage": stage, "by": by})
            assert is_error and "no output held" in again["error"], again
            print(json.dumps({"held": held[0], "approved": approved}))


async def partitions():
    """A pipeline whose partitions are added at run time, through MCP: hostile keys
    refused, a key added, a partition's output stored, the matrix read."""
    async with stdio_client(server()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            refused = {}
            for key in ["a/b", "..", "{partition}", "eu\u0000", "k" * 10000]:
                body, is_error = await call(s, "partition_add", {"partition": key})
                assert is_error, body
                assert len(body["error"]) < 300, body
                refused[key[:20]] = body["error"]
            added = await ok(s, "partition_add", {"partition": "eu"})
            assert added["added"] and added["stages"] == ["review[eu]"], added
            unnamed, is_error = await call(s, "agent_output", {"stage": "review", "value": {"verdict": "ship"}})
            assert is_error and "runs once per partition" in unnamed["error"], unnamed
            stored = await ok(s, "agent_output", {"stage": "review", "partition": "eu", "value": {"verdict": "ship"}})
            inputs = await ok(s, "agent_inputs", {"stage": "summary"})
            status = await ok(s, "pipeline_status", {"partitions": ["eu"]})
            matrix = await ok(s, "partitions", {})
            print(json.dumps({"refused": refused, "stored": stored, "inputs": inputs, "status": status, "matrix": matrix}))


async def hostile():
    """Malformed and hostile calls: each answered clearly, and the server keeps serving."""
    async with stdio_client(server()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            outcomes = {}
            try:
                await s.call_tool("no_such_tool", {})
                outcomes["unknown_tool"] = "no error"
            except Exception as e:  # a protocol error names the tool
                outcomes["unknown_tool"] = str(e)
            body, is_error = await call(s, "memory_store", {"key": 42, "value": {}})
            assert is_error and "key" in body["error"], body
            outcomes["wrong_type"] = body["error"]
            body, is_error = await call(s, "memory_store", {"value": {}})
            assert is_error and "key" in body["error"], body
            body, is_error = await call(s, "emit_agent_event", {"agent_id": "flat-not-request"})
            assert is_error and "request" in body["error"], body
            big = "x" * (50 << 20)
            body, is_error = await call(s, "memory_store", {"key": "big", "value": big})
            assert is_error and "MiB" in body["error"], body
            outcomes["too_big"] = body["error"]
            body, is_error = await call(s, "memory_store", {"key": "k" * 100000, "value": 1})
            assert is_error and len(body["error"]) < 400, len(body["error"])
            body, is_error = await call(s, "memory_store", {"key": "broken", "value": "{\"a\": "})
            assert is_error and "not valid JSON" in body["error"] and "line 1" in body["error"], body
            body, is_error = await call(s, "memory_store", {"key": "forged", "value": {}, "namespace": "baton.events"})
            assert is_error and body["kind"] == "bad-input" and "belongs to baton" in body["error"], body
            body, is_error = await call(s, "memory_delete", {"key": "forged", "namespace": "baton.events"})
            assert is_error and "belongs to baton" in body["error"], body
            alive = await ok(s, "memory_store", {"key": "after/hostile", "value": {"ok": True}})
            outcomes["alive_revision"] = alive["revision"]
            print(json.dumps(outcomes))


async def disconnect():
    """A client that leaves in the middle of a call: the next client is served."""
    async with stdio_client(server()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            task = asyncio.create_task(s.call_tool("memory_store", {"key": "left/mid-call", "value": {"n": 1}}))
            await asyncio.sleep(0)
            task.cancel()
    async with stdio_client(server()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            got = await ok(s, "memory_store", {"key": "after/disconnect", "value": {"ok": True}})
            print(json.dumps({"revision": got["revision"]}))


async def writer(prefix, count):
    """One agent storing `count` keys."""
    async with stdio_client(server()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            for i in range(count):
                await ok(s, "memory_store", {"key": f"{prefix}/{i}", "value": {"i": i}})
    print(json.dumps({"stored": count}))


async def bench(rounds):
    """Median tool-call latency through the real client: retrieve and durable store."""
    async with stdio_client(server()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            await ok(s, "memory_store", {"key": "bench/doc", "value": {"payload": "x" * 1024}})
            timings = {"memory_retrieve": [], "memory_store": []}
            for i in range(rounds):
                t = time.perf_counter()
                await ok(s, "memory_retrieve", {"key": "bench/doc"})
                timings["memory_retrieve"].append(time.perf_counter() - t)
                t = time.perf_counter()
                await ok(s, "memory_store", {"key": "bench/doc", "value": {"payload": "x" * 1024, "i": i}})
                timings["memory_store"].append(time.perf_counter() - t)
            print(json.dumps({k: {"median_ms": statistics.median(v) * 1e3, "p90_ms": sorted(v)[int(len(v) * 0.9)] * 1e3, "n": len(v)} for k, v in timings.items()}))


def main():
    scenario, args = sys.argv[1], sys.argv[2:]
    runs = {
        "seed000": lambda: seed000(*args),
        "handoff": lambda: handoff(*args),
        "hostile": hostile,
        "partitions": partitions,
        "decide": lambda: decide(*args),
        "imported": imported,
        "disconnect": disconnect,
        "writer": lambda: writer(args[0], int(args[1])),
        "bench": lambda: bench(int(args[0])),
    }
    asyncio.run(runs[scenario]())


if __name__ == "__main__":
    main()
