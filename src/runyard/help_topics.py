"""``runyard help TOPIC``: the selection and filter grammars, with examples.

The grammars themselves live in ``select/``; this is what the terminal shows about them
(docs/filters.md has the full reference).
"""

from __future__ import annotations

SELECTION = """\
Selecting runs

Commands that take RUN or RUNS... pick runs by their place in the list, newest first
(as 'runyard runs' numbers them), or by id:

  1              the latest run
  3              the third newest
  1:3            the latest three: 1, 2 and 3 (a range includes both ends)
  2:             the second newest and every older one
  :3             the same as 1:3
  a1b2c3d4       the run whose id starts with a1b2c3d4 (any unique prefix, or the
                 full 32-digit id)
  1 4 a1b2       several of these, in any mix

Filters apply first and the numbers count what is left, so 'runyard runs 1 --error'
is the latest run that ended in an error. With nothing given, 'runs' and 'compare'
take every run (and 'runs' shows the latest 20); info, cat, ls, select and report
take the latest run; diff the latest two.

A range beyond the last run selects nothing ('runyard runs 5:9' with 3 runs says
"no runs match 5:9"). A number or id that names no run is an error ("no run 9",
"no run matches 'zz'"); an id prefix shared by several runs is refused as ambiguous.

Batch runs (the parent of a grid or search) are left out unless --include-batch.
From Python the same selectors work: runyard.ls_runs("1:3"), ls_runs([1, "a1b2"]).

See also: runyard help filters
"""

FILTERS = """\
Filtering runs

Options (every command that takes runs):

  Status (any of them):   -Sr --running   -Sc --completed   -Se --error
                          -St --terminated   -Sp --pending   -Ss --staged
  Marks:                  -Fm --marked    -Fn --unmarked
  Text (repeatable):      -Fl --label TEXT ('-' = no label)   -Fu --unlabeled
                          -Ft --tag TAG   -Fo --operation TEXT   -Fc --comment TEXT
  When:                   -Fs --started RANGE
  Source code:            -Fd --digest PREFIX
  Expression:             -F  --filter EXPR
  Batch runs:             --include-batch

Status options are OR-ed; all other filters are AND-ed.

Filter expressions (-F) test flags, scalars and attributes:

  ref = value   !=   <   <=   >   >=      compare (numbers as numbers)
  ref in [v1, v2]      ref not in [...]   one of a list (or none)
  ref contains text    not contains       text, ignoring case
  ref is undefined     is not undefined   the run lacks (or has) it
  and   or   not   ( )                    not binds tightest, then and, then or

  References: flag:lr   scalar:loss   scalar:val/acc   attr:status   loss (attributes,
  then flags, then scalars). Values: 3  -0.5  1e-3  "two words"  true  false  adam.
  A run without the referenced value fails every test but 'is undefined'.

Examples (quote the expression: < and > mean redirection to the shell):

  runyard runs -F "flag:lr < 0.01 and scalar:loss <= 0.3"
  runyard compare -F "optimizer in [adam, sgd] and epochs >= 20" -Sc
  runyard runs -F "label contains baseline or label contains 'ablation 2'"
  runyard runs -F "scalar:loss is undefined"
  runyard runs -Fl baseline -Ft best --started "last 3 days"

Time ranges (--started, and 'started'/'stopped' in expressions):

  today   yesterday   this week   this month   3 days ago   2 hours ago
  last hour   last 3 days   last week          (rolling: reach back from now)
  2026-01-02   14:30   2026-01-02 14:30         (that day, minute, ...)
  before today   after 2026-01-02   between 1-1 and 2-1

From Python: runyard.ls_runs(filter="loss < 0.3", started="last hour", error=True),
or the terminal's words: runyard.ls_runs("--marked --started 'last hour'").
Full reference: docs/filters.md.

See also: runyard help selection
"""

TOPICS = {"selection": SELECTION, "filters": FILTERS}
