"""Batches: trials from grids, data frames, random and Bayesian search; local and Dask executors."""
