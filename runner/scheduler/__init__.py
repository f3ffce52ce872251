"""Deciding what is due (SPEC 2): the scheduler's tick, apart from its loop (STYLE).

`decide` is pure: given a job's normalised schedule, the last tick already handled
(the job's cursor, kept in the store), since when a daemon has been up, and now, it
says which runs to create and which ticks were missed, by reason. The loop around it
(the daemon) only sleeps, calls it, and writes what it decided.
"""
