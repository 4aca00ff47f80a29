"""Running a script: make the run directory, snapshot the source, start the process, tee its output, record scalars, finalize status."""
