"""Runs as a user acts on them: trigger one, execute it in the foreground, cancel it,
find stale ones, prune history, and show runs in the shapes of SPEC 6."""
