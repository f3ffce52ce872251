"""Running processes: one run of one revision, its task graph, logs and timeouts.

Knows nothing of the store or the configuration: it is handed a `RunOrder` and reports
every state change to a `Journal` (STYLE's layer 2).
"""
