"""`make run`: llama-server and the orchestrator on this machine, until Ctrl-C.

llama-server listens on 127.0.0.1:9000 in router mode with both lab models, behind an API
key generated once into $CEREBRUM_CACHE/run/api.key; the orchestrator (`python -m cerebrum`)
listens on 127.0.0.1:7000 with that key, so the seed's curl examples work as written.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from tools.llama_local import CACHE, LlamaServer

LLAMA_PORT = int(os.environ.get("LLAMA_PORT", "9000"))
CEREBRUM_PORT = os.environ.get("CEREBRUM_PORT", "7000")
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
    models = [{"alias": m, "model": m, "context_size": CTX_PER_SLOT} for m in server.models]
    env = {
        **os.environ,
        "CEREBRUM_API_KEY": server.api_key,
        "CEREBRUM_BACKENDS": server.url,
        "CEREBRUM_MODELS": json.dumps(models),
        "CEREBRUM_PORT": CEREBRUM_PORT,
    }
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
