"""Operations: one typed function per user action (validate, plan, apply, run, cancel,
jobs, status, history, tasks, logs), the only thing the CLI (and the HTTP API to come)
calls. Each takes typed arguments, does the work against the store, and returns a typed
result that the CLI renders and the API serialises (SPEC 6's JSON shapes); a refusal is
a `RunnerError` with a stable `code`.

Nothing is imported here: a command imports the one module it uses when it runs, so
that `runner jobs` does not pay for what `runner run` needs.
"""
