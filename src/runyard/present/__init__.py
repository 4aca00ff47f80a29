"""What the web view, the HTML reports and the CLI show alike: formatting, run lookup, side-by-side
diffs, syntax highlighting, scalar series, page contents and their rendering.

Below both :mod:`runyard.web` and :mod:`runyard.report`; imports neither of them (nor the CLI).
"""
