"""What runner asks of the operating system: processes known by pid and start time
(`procs`), and waking another runner process on the same home (`wakeup`)."""
