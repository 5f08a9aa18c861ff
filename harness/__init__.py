"""The local harness that the tests, the benchmarks and the tools share.

One module per job: `paths` (the repository and the asset cache), `role` (a role's
variables as Ansible renders them), `assets` (the pinned llama.cpp source and the lab
models), `llama_build` (llama-server built with the role's flags), `ports` (free ports,
polling), `service` (a local server process: start, readiness, pinning, stop),
`llama_server` (the real llama-server in router mode), `orchestrator` (the orchestrator
process and its environment), `probes` (scripts run on a deployed host) and `adversarial`
(the prompt pipeline's adversarial inputs, for the linearity guard and the pipeline bench).
Nothing here imports `tests`, `bench` or `tools`.
"""
