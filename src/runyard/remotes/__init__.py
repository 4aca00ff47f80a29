"""Remotes: other places that hold runs (S3-compatible storage, SSH hosts, shared folders).

``config`` keeps the named remotes in the user's config file; ``sync`` pushes and pulls runs
over fsspec, staged and published last as import does.
"""
