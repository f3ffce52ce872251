"""`runner daemon` (SPEC 5): the loop that applies the folder, ticks the schedules,
starts what is due and runs it, and survives restarts (everything it decides is
rebuilt from the store)."""
