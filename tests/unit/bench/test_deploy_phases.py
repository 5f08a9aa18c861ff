from bench.deploy import phase_of, phases


def test_tasks_fall_into_their_role_phase():
    assert phase_of("llama_cpp : Build | Compile llama-server") == "llama.cpp: build"
    assert phase_of("llama_cpp : Models | Check the installed file of x") == "llama.cpp: models"
    assert phase_of("cerebrum : Install | pip install the app") == "app: venv, pip install"
    assert phase_of("cerebrum : Run | Wait for /health") == "app: configure, start"
    assert phase_of("common : Updates | Install unattended-upgrades").startswith("base")


def test_handlers_and_facts_have_a_phase():
    assert phase_of("llama_cpp : Restart llama-server") == "llama.cpp: configure, firewall, start"
    assert phase_of("Gathering Facts") == "facts, other"


def test_phase_seconds_sum_task_wall_times():
    def task(name: str, start: str, end: str) -> dict[str, object]:
        return {"task": {"name": name, "duration": {"start": start, "end": end}}}

    output = {"plays": [{"tasks": [
        task("llama_cpp : Build | a", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"),
        task("llama_cpp : Build | b", "2026-01-01T00:01:00Z", "2026-01-01T00:01:30Z"),
        task("Gathering Facts", "2026-01-01T00:01:30Z", "2026-01-01T00:01:32Z"),
    ]}]}  # fmt: skip
    assert phases(output) == {"llama.cpp: build": 90.0, "facts, other": 2.0}
