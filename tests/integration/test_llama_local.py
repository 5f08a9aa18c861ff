"""The local llama-server runner protects router-mode children the way the role does."""

from __future__ import annotations

from pathlib import Path

import httpx

from harness.llama_server import LlamaServer


def _child_ports(parent: int) -> list[int]:
    """The --port of every direct child process of ``parent`` (router-mode model servers)."""
    ports = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            args = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue  # the process went away meanwhile
        if ppid == parent and b"--port" in args:
            ports.append(int(args[args.index(b"--port") + 1]))
    return ports


def test_router_children_enforce_the_key(llama_server: LlamaServer) -> None:
    body = {"model": llama_server.models[0], "prompt": "def add(a, b):", "n_predict": 1}
    loaded = httpx.post(
        f"{llama_server.url}/completion", headers=llama_server.headers, json=body, timeout=120
    )
    assert loaded.status_code == 200, loaded.text
    assert llama_server.process is not None
    ports = _child_ports(llama_server.process.pid)
    assert ports, "no router-mode child is listening after a model was loaded"
    for port in ports:
        reply = httpx.post(
            f"http://127.0.0.1:{port}/completion",
            json={"prompt": "x", "n_predict": 1},
            timeout=10,
        )
        assert reply.status_code == 401, f"child on :{port} answered without the key: {reply.text}"
