"""Deciding what is due and what starts (SPEC 2): the scheduler's tick, apart from its
loop (STYLE), which the daemon runs.

`decide` says which ticks of one job's schedule become runs; `overlap` is the one rule
for a new run while others of its job are active; `tick_decision` decides a whole tick
from what the store said (pure), and `tick` reads it and writes the decision. `jobs` is
the daemon's table of applied jobs by next tick; `admit` says which scheduled runs start.
"""
