"""An MCP server over stdio, through a plain client, round after round: claude-flow's
calls slow down as its stores accumulate (docs/BENCHMARKS.md, session 17).

Usage, in a project `claude-flow memory init` prepared:
    python3 docs/measure/mcp_growth.py node_modules/.bin/claude-flow mcp start
Any stdio MCP server works (`baton mcp` too). Prints, for each of four rounds of 100
calls of each, the median `memory_retrieve` and durable `memory_store` round trip of a
1 KiB document.
"""

import json
import subprocess
import sys
import time

server = subprocess.Popen(
    sys.argv[1:],
    stdin=subprocess.PIPE,
    stdout=subprocess.PIPE,
    stderr=subprocess.DEVNULL,
    text=True,
    bufsize=1,
)


def send(message):
    server.stdin.write(json.dumps(message) + "\n")
    server.stdin.flush()


def call(request):
    send(request)
    while True:
        line = server.stdout.readline()
        if not line:
            sys.exit("the server closed its output")
        answer = json.loads(line)
        if answer.get("id") == request["id"]:
            if "error" in answer or answer["result"].get("isError"):
                sys.exit(f"the call failed: {line[:300]}")
            return answer


def tool(name, arguments):
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


call(
    {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "mcp_growth", "version": "1"},
        },
    }
)
send({"jsonrpc": "2.0", "method": "notifications/initialized"})
doc = {"components": [{"id": f"service-{i}", "capacity_rps": 800} for i in range(8)]}
where = {"key": "coding/architecture/system", "namespace": "coding-pipeline"}
store = tool("memory_store", {**where, "value": doc})
retrieve = tool("memory_retrieve", where)
call(store)
for round_ in range(4):
    for name, request in (("retrieve", retrieve), ("store", store)):
        times = []
        for _ in range(100):
            started = time.perf_counter()
            call(request)
            times.append(time.perf_counter() - started)
        times.sort()
        print(f"round {round_}: {name} median {times[50] * 1000:.2f} ms", flush=True)
server.stdin.close()
server.wait()
