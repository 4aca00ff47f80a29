"""The web view: runs, run, compare and diff pages over :mod:`runyard.api` (Starlette + uvicorn).

``runyard.view(runs=None, host="127.0.0.1", port=None, open=True, stop=False)`` starts it (see
:func:`runyard.web.server.view`).
"""
