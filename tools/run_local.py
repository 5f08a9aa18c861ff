"""`make run`: llama-server and the orchestrator on this machine, until Ctrl-C.

llama-server listens on 127.0.0.1:9000 in router mode with both lab models, behind an API
key generated once into $CEREBRUM_CACHE/run/api.key; the orchestrator (`python -m cerebrum`)
listens on 127.0.0.1:7000 with that key, so the seed's curl examples work as written.
The lab models' aliases are their router ids (completion prompts); the caller's CEREBRUM_*
variables are kept and win over these settings.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from harness.llama_server import LlamaServer
from harness.orchestrator import orchestrator_env
from harness.paths import CACHE

LLAMA_PORT = int(os.environ.get("LLAMA_PORT", "9000"))
CEREBRUM_PORT = int(os.environ.get("CEREBRUM_PORT", "7000"))
PARALLEL = 2
CTX_PER_SLOT = 2048


def api_key(path: Path) -> str:
    """The local backend key: generated on first use, kept (0600) for later runs."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def main() -> int:
    workdir = CACHE / "run"
    workdir.mkdir(parents=True, exist_ok=True)
    server = LlamaServer.with_lab_models(
        workdir,
        port=LLAMA_PORT,
        api_key=api_key(workdir / "api.key"),
        parallel=PARALLEL,
        ctx_size=PARALLEL * CTX_PER_SLOT,
    )
    print(f"[run] llama-server on {server.url} (log: {server.log_path})", flush=True)
    server.start()
    own = {key[len("CEREBRUM_") :].lower(): value for key, value in os.environ.items()
           if key.startswith("CEREBRUM_")}  # fmt: skip
    models = [{"alias": m, "model": m, "context_size": CTX_PER_SLOT} for m in server.models]
    env = orchestrator_env(
        server.url, server.api_key, CEREBRUM_PORT, models, **{"client_keys": None, **own}
    )
    print(f"[run] orchestrator on http://127.0.0.1:{CEREBRUM_PORT} (Ctrl-C stops both)", flush=True)
    orchestrator = subprocess.Popen([sys.executable, "-m", "cerebrum"], env=env)
    try:
        return orchestrator.wait()
    except KeyboardInterrupt:
        orchestrator.send_signal(signal.SIGINT)
        return orchestrator.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
