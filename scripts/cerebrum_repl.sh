#!/usr/bin/env bash
# Streaming REPL for the Cerebrum orchestrator (docs/repl.md).
# Runs the install's venv (../.venv) and reads the orchestrator's ../.env, when readable,
# for the URL and the client key; every argument is passed on (try --help).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
python="$root/.venv/bin/python"

if [[ ! -x "$python" ]]; then
    echo "cerebrum_repl.sh: no Python environment at $root/.venv (install the orchestrator there first, e.g. make venv)" >&2
    exit 1
fi

args=()
if [[ -r "$root/.env" ]]; then  # unreadable (0600, another user): defaults, loopback
    args+=(--env-file "$root/.env")
fi
exec "$python" -m cerebrum.repl "${args[@]}" "$@"
