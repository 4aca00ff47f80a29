"""The SQLite cache over all runs: derived, rebuildable, reconciled cheaply on read."""
