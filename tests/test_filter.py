"""The run filter language (select/filter.py)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from runyard.errors import SelectError, UsageError
from runyard.select.filter import UNDEFINED, Filter, mapping_lookup, parse_filter


def run(attrs=None, flags=None, scalars=None):
    return mapping_lookup(attrs, flags, scalars)


def matches(expr: str, **parts) -> bool:
    return parse_filter(expr).matches(run(**parts))


# --- comparisons --------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("lr = 0.1", True),
        ("lr == 0.1", True),
        ("lr != 0.1", False),
        ("lr <> 0.1", False),
        ("lr < 0.2", True),
        ("lr <= 0.1", True),
        ("lr > 0.1", False),
        ("lr >= 0.1", True),
        ("lr<0.2", True),
        ("epochs = 10", True),
        ("epochs = 10.0", True),
        ("epochs < 1e2", True),
        ("epochs > 1E1", False),
        ("lr > -1", True),
        ("lr > +0.05", True),
        ("lr < .2", True),
        ("lr = 1e-1", True),
    ],
)
def test_numeric_comparisons(expr, expected):
    assert matches(expr, flags={"lr": 0.1, "epochs": 10}) is expected


def test_strings_compare_case_sensitively_and_bare_words_are_strings():
    r = {"attrs": {"label": "baseline", "status": "completed"}}
    assert matches("label = baseline", **r)
    assert matches("label = 'baseline'", **r)
    assert matches('label = "baseline"', **r)
    assert not matches("label = Baseline", **r)
    assert matches("label != Baseline", **r)
    assert matches("status = completed or status = error", **r)
    assert matches("label > a and label < c", **r)


def test_quoted_strings_keep_spaces_and_escapes():
    assert matches('label = "two words"', attrs={"label": "two words"})
    assert matches("label = 'it\\'s'", attrs={"label": "it's"})
    assert matches(r'path = "C:\temp\x"', flags={"path": r"C:\temp\x"})
    assert matches("label = 'a = b or c'", attrs={"label": "a = b or c"})


def test_booleans():
    assert matches("shuffle = true", flags={"shuffle": True})
    assert matches("shuffle = TRUE", flags={"shuffle": True})
    assert matches("shuffle = false", flags={"shuffle": False})
    assert not matches("shuffle = true", flags={"shuffle": False})
    assert matches("shuffle = 'true'", flags={"shuffle": True})
    # A boolean is not a number.
    assert not matches("shuffle = 1", flags={"shuffle": True})
    assert matches("shuffle != 1", flags={"shuffle": True})


def test_literals_are_coerced_to_the_value_type():
    # A quoted number against a numeric value compares as a number.
    assert matches('lr = "0.1"', flags={"lr": 0.1})
    assert matches("lr < '1'", flags={"lr": 0.1})
    # A numeric string value against a number literal compares as a number.
    assert matches("batch = 32", flags={"batch": "32"})
    assert matches("batch < 64", flags={"batch": "128"}) is False
    assert matches("batch > 64", flags={"batch": "128"})
    # A string that is not a number: equality False, inequality True, ordering False.
    assert not matches("optimizer = 1", flags={"optimizer": "adam"})
    assert matches("optimizer != 1", flags={"optimizer": "adam"})
    assert not matches("optimizer < 1", flags={"optimizer": "adam"})
    assert not matches("optimizer > 1", flags={"optimizer": "adam"})
    # A non-numeric word against a number.
    assert not matches("lr = fast", flags={"lr": 0.1})
    assert matches("lr != fast", flags={"lr": 0.1})
    assert not matches("lr < fast", flags={"lr": 0.1})


def test_type_errors_are_false_never_raise():
    flags = {"layers": [1, 2], "cfg": {"a": 1}, "obj": object()}
    for expr in ("layers < 3", "layers = 1", "cfg > a", "obj >= 2", "obj = x"):
        assert matches(expr, flags=flags) is False
    assert matches("obj != x", flags=flags) is True


def test_numpy_values_compare_like_python_values():
    np = pytest.importorskip("numpy")
    flags = {"a": np.int64(3), "b": np.float32(0.5), "c": np.bool_(True)}
    assert matches("a = 3 and a < 4 and b < 0.6 and c = true", flags=flags)
    assert not matches("a > 3", flags=flags)


# --- in, contains, undefined --------------------------------------------------------


def test_in_and_not_in():
    flags = {"opt": "adam", "bs": 64}
    assert matches("opt in [adam, sgd]", flags=flags)
    assert matches("opt in ['adam']", flags=flags)
    assert matches("opt IN [sgd, adam]", flags=flags)
    assert not matches("opt in [sgd, rmsprop]", flags=flags)
    assert matches("opt not in [sgd, rmsprop]", flags=flags)
    assert not matches("opt not in [adam]", flags=flags)
    assert matches("bs in [32, 64.0]", flags=flags)
    assert matches("bs in[32,64]", flags=flags)
    assert not matches("bs in []", flags=flags)
    assert matches("bs not in []", flags=flags)


def test_contains_is_a_case_insensitive_substring():
    attrs = {"label": "ResNet-50 baseline", "tags": ["Best", "gpu"]}
    assert matches("label contains 'resnet'", attrs=attrs)
    assert matches('label contains "NET-5"', attrs=attrs)
    assert matches("label contains baseline", attrs=attrs)
    assert not matches("label contains vgg", attrs=attrs)
    assert matches("label not contains vgg", attrs=attrs)
    assert not matches("label NOT CONTAINS base", attrs=attrs)
    assert matches("tags contains best", attrs=attrs)
    assert matches("lr contains 0.0", flags={"lr": 0.001})


def test_undefined_references():
    lookup = run(flags={"lr": 0.1})
    f = lambda expr: parse_filter(expr).matches(lookup)  # noqa: E731
    assert f("dropout is undefined")
    assert f("dropout IS UNDEFINED")
    assert not f("lr is undefined")
    assert f("lr is not undefined")
    assert not f("dropout is not undefined")
    # Every other test on a missing reference is False, including negated ones...
    for expr in (
        "dropout = 0.1", "dropout != 0.1", "dropout <> 0.1", "dropout < 1",
        "dropout in [0.1]", "dropout not in [0.1]",
        "dropout contains 1", "dropout not contains 1",
    ):
        assert f(expr) is False, expr
    # ...while `not` negates the whole test.
    assert f("not dropout = 0.1")
    assert f("dropout != 0.1 or dropout is undefined")


def test_none_counts_as_undefined_and_the_sentinel_is_honoured():
    assert matches("seed is undefined", flags={"seed": None})
    assert not matches("seed = 1", flags={"seed": None})
    lookup = lambda kind, name: UNDEFINED  # noqa: E731
    assert parse_filter("x is undefined").matches(lookup)
    assert not parse_filter("x = 1").matches(lookup)
    assert repr(UNDEFINED) == "UNDEFINED" and not UNDEFINED


# --- logic and precedence ----------------------------------------------------------


def test_and_binds_tighter_than_or():
    # Guild 0.9 reads this as a=1 and (b=2 or c=3), which is False here.
    assert matches("a = 1 and b = 2 or c = 3", flags={"a": 2, "b": 5, "c": 3})
    assert matches("c = 3 or a = 1 and b = 2", flags={"a": 2, "b": 5, "c": 3})
    assert not matches("a = 1 and (b = 2 or c = 3)", flags={"a": 2, "b": 5, "c": 3})
    assert not matches("(a = 1 or b = 2) and c = 3", flags={"a": 2, "b": 5, "c": 3})


def test_not_binds_tightest_and_nests():
    flags = {"a": 1, "b": 2}
    assert not matches("not a = 1 and b = 2", flags=flags)  # (not a=1) and b=2
    assert matches("not a = 1 or b = 2", flags=flags)
    assert not matches("not (a = 1 or b = 3)", flags=flags)
    assert matches("not not a = 1", flags=flags)
    assert matches("NOT (a = 2) AND (b = 2)", flags=flags)


def test_long_chains_and_deep_parentheses():
    flags = {f"x{i}": i for i in range(6)}
    all_and = " and ".join(f"x{i} = {i}" for i in range(6))
    assert matches(all_and, flags=flags)
    assert not matches(all_and + " and x0 = 9", flags=flags)
    any_or = " or ".join(f"x{i} = 99" for i in range(6))
    assert not matches(any_or, flags=flags)
    assert matches(any_or + " or x5 = 5", flags=flags)
    assert matches("((((x1 = 1))))", flags=flags)


def test_keywords_are_case_insensitive_but_names_that_start_with_them_are_names():
    flags = {"notes": "x", "island": 1, "order": 2, "android": 3, "isa": 4}
    assert matches("notes = x AND island = 1 Or order = 0", flags=flags)
    assert matches("android = 3 and isa = 4", flags=flags)


# --- references ------------------------------------------------------------------------


def test_prefixes_pick_the_kind_and_refs_list_them_once_in_order():
    f = parse_filter(
        "flag:lr < 0.01 and scalar:val/loss <= 0.3 or attr:label contains x "
        "or loss > 1 or flag:lr > 1 or train#acc.top-1 = 2"
    )
    assert f.refs == [
        ("flag", "lr"),
        ("scalar", "val/loss"),
        ("attr", "label"),
        (None, "loss"),
        (None, "train#acc.top-1"),
    ]
    assert f.text.startswith("flag:lr")
    assert isinstance(f, Filter)


def test_a_prefixed_reference_asks_only_that_kind():
    seen = []

    def lookup(kind, name):
        seen.append((kind, name))
        return {"flag": 0.5, "scalar": 2.0, "attr": "x", None: 0.5}[kind]

    assert parse_filter("scalar:lr = 2").matches(lookup)
    assert parse_filter("flag:lr = 0.5").matches(lookup)
    assert parse_filter("lr = 0.5").matches(lookup)
    assert seen == [("scalar", "lr"), ("flag", "lr"), (None, "lr")]


def test_mapping_lookup_resolves_attr_then_flag_then_scalar():
    lookup = mapping_lookup(
        {"label": "a", "x": "attr"}, {"x": "flag", "y": "flag"}, {"x": 1.0, "y": 2.0, "z": 3.0}
    )
    assert lookup(None, "x") == "attr"
    assert lookup(None, "y") == "flag"
    assert lookup(None, "z") == 3.0
    assert lookup("scalar", "x") == 1.0
    assert lookup("flag", "z") is UNDEFINED
    assert lookup(None, "nope") is UNDEFINED
    assert matches("scalar:y = 2 and y = flag and flag:y = flag", flags={"y": "flag"}, scalars={"y": 2.0})


def test_reserved_words_need_a_prefix_or_quotes():
    assert matches("flag:in = 1", flags={"in": 1})
    assert matches("x = 'and'", flags={"x": "and"})
    with pytest.raises(SelectError, match="unexpected 'in' at column 1"):
        parse_filter("in = 1")


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, message",
    [
        ("x <", "invalid filter 'x <': expected a value at the end"),
        ("x", "invalid filter 'x': expected an operator"),
        ("x = 1 and", "expected a name (attribute, flag or scalar), 'not' or '(' at the end"),
        ("(x = 1", "expected ')' at the end"),
        ("x = 1)", "unexpected ')' at column 6"),
        ("1 < x", "unexpected '1' at column 1, expected a name"),
        ("x = foo bar", "unexpected 'bar' at column 9, expected 'and', 'or' or the end"),
        ("x ! 1", "unexpected '!' at column 3"),
        ("x in 1", "unexpected '1' at column 6, expected '['"),
        ("x in [1 2]", "unexpected '2' at column 9, expected ']' or ','"),
        ("x is nothing", "unexpected 'nothing' at column 6, expected 'undefined' or 'not'"),
        ("x = 'abc", "unclosed quote at column 5"),
        ("a = 1 or or b = 2", "unexpected 'or' at column 10"),
        ("flag: = 1", "missing a name after 'flag:' at column 1"),
        ("", "the expression is empty"),
        ("   ", "the expression is empty"),
    ],
)
def test_malformed_expressions_raise_one_line_select_errors(expr, message):
    with pytest.raises(SelectError) as info:
        parse_filter(expr)
    text = str(info.value)
    assert message in text
    assert text.startswith("invalid filter '")
    assert "\n" not in text
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2


def test_multiline_expressions_parse_and_errors_stay_on_one_line():
    assert matches("a = 1\n and b = 2", flags={"a": 1, "b": 2})
    with pytest.raises(SelectError) as info:
        parse_filter("a = 1\nand")
    assert "\n" not in str(info.value)


# --- speed --------------------------------------------------------------------------------


def test_evaluating_a_three_clause_filter_over_100k_runs_is_fast():
    runs = [
        mapping_lookup(
            {"status": "completed" if i % 3 else "error", "label": f"run {i}"},
            {"lr": (i % 100) / 1000, "optimizer": "adam" if i % 2 else "sgd"},
            {"loss": (i % 50) / 10},
        )
        for i in range(100_000)
    ]
    f = parse_filter("flag:lr < 0.05 and scalar:loss <= 2.5 and status = completed")
    t0 = time.perf_counter()
    n = sum(1 for r in runs if f.matches(r))
    elapsed = time.perf_counter() - t0
    print(f"\n3-clause filter over 100,000 runs: {elapsed * 1000:.0f} ms ({n} matched)")
    expected = sum(
        1
        for i in range(100_000)
        if (i % 100) / 1000 < 0.05 and (i % 50) / 10 <= 2.5 and i % 3
    )
    assert n == expected
    assert elapsed < 3.0


def test_absurd_inputs_give_select_errors_not_tracebacks():
    with pytest.raises(SelectError, match="nested too deeply"):
        parse_filter("not " * 5000 + "x = 1")
    # More digits than int() accepts: the literal stays text, the filter still works.
    assert not matches("x = " + "1" * 5000, flags={"x": 1})
    assert not matches("x < " + "1" * 5000, flags={"x": 1})
    assert matches("(" * 500 + "x = 1" + ")" * 500, flags={"x": 1})


def test_importing_the_module_does_not_import_lark():
    import subprocess
    import sys

    code = "import sys, runyard.select.filter, runyard.select.timerange; print('lark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_datetime_values_compare_with_time_ranges():
    from datetime import datetime, timedelta

    at = {"started": datetime(2026, 1, 2, 10, 0), "stopped": datetime(2026, 1, 2, 11, 30)}
    assert matches("started = 2026-01-02", attrs=at)
    assert not matches("started != 2026-01-02", attrs=at)
    assert matches("started > 2026-01-01 and started < 2026-01-03", attrs=at)
    assert not matches("started > 2026-01-02", attrs=at)  # after the whole day
    assert matches("started >= 2026-01-02 and started <= 2026-01-02", attrs=at)
    assert not matches("started < 2026-01-02", attrs=at)
    assert matches("started = '2026-01-02 10:00'", attrs=at)
    assert matches("stopped = 'between 2026-01-02 11:00 and 2026-01-02 12:00'", attrs=at)
    assert matches("started in [2026-01-01, 2026-01-02]", attrs=at)
    assert matches("started < today and started = 'this year' or started < 'this year'", attrs=at)
    # Something that isn't a time range: equality False, inequality True.
    assert not matches("started = soon", attrs=at)
    assert matches("started != soon", attrs=at)
    assert not matches("started < soon", attrs=at)
    recent = {"started": datetime.now() - timedelta(minutes=5)}
    assert matches("started = today or started = yesterday", attrs=recent)
    assert matches("started = 'last hour'", attrs=recent)
    assert not matches("started < 'last hour'", attrs=recent)


def _signature(node):
    """A parse tree as plain data: rule names, token types, texts and columns."""
    if node is None:
        return None
    if isinstance(node, str):
        return (node.type, str(node), node.column)
    return (str(node.data), [_signature(c) for c in node.children])


def _random_filter(rnd) -> str:
    """A random expression of the filter grammar, spaced and cased in odd ways."""
    sp = lambda: rnd.choice(["", " ", "  ", "\t", "\n "])  # noqa: E731
    kw = lambda w: rnd.choice([w, w.upper(), w.title()])  # noqa: E731
    refs = ["lr", "flag:lr", "scalar:val_loss", "attr:label", "x.y", "_a", "notes", "android", "isx", "in_", "a-b"]
    values = ["1", "-2.5", "1e-3", ".5", "+3", '"a b"', "'it''s'", "'x\\'y'", "true", "False", "sgd", "0.1abc",
              "2026-01-02", "1/2", "nan", "undefinedx"]

    def value():
        return rnd.choice(values)

    def test():
        ref = rnd.choice(refs)
        form = rnd.randrange(7)
        if form == 0:
            return f"{ref}{sp()}{rnd.choice(['=', '==', '!=', '<>', '<', '<=', '>', '>='])}{sp()}{value()}"
        if form in (1, 2):
            items = [value() for _ in range(rnd.randrange(4))]
            lst = "[" + sp() + ("," + sp()).join(items) + sp() + "]"
            return f"{ref} {kw('not') + ' ' if form == 2 else ''}{kw('in')}{sp()}{lst}"
        if form in (3, 4):
            return f"{ref} {kw('is')} {kw('not') + ' ' if form == 4 else ''}{kw('undefined')}"
        return f"{ref} {kw('not') + ' ' if form == 6 else ''}{kw('contains')} {value()}"

    def expr(depth):
        r = rnd.random()
        if depth > 3 or r < 0.4:
            return test()
        if r < 0.55:
            return f"{kw('not')} {expr(depth + 1)}"
        if r < 0.7:
            return f"({sp()}{expr(depth + 1)}{sp()})"
        op = kw(rnd.choice(["and", "or"]))
        return f"{expr(depth + 1)} {op} {expr(depth + 1)}"

    return sp() + expr(0) + sp()


def test_fast_parser_builds_the_tree_lark_builds():
    """parse_filter parses by recursive descent (no lark import, no grammar to build in a new
    process); wherever it gives a tree it must be lark's, and it must take every valid filter."""
    import random

    from runyard.select.filter import _FastParser, _Unexpected, _parser

    rnd = random.Random(5)
    valid = [_random_filter(rnd) for _ in range(2000)]
    broken = []
    for text in valid[:600]:
        i = rnd.randrange(len(text) + 1)
        broken.append(text[:i] + rnd.choice(["", "(", ")", "]", "[", ",", " and", " not", "'", "=", "x"]) + text[i + 1:])
    taken = 0
    for text in valid + broken:
        try:
            want = _signature(_parser().parse(text))
        except Exception:  # noqa: BLE001 - lark rejects it: the fast parser must too
            want = None
        try:
            got = _signature(_FastParser(text).parse())
        except _Unexpected:
            got = None
            assert text not in valid or want is None, f"the fast parser refused a filter lark takes: {text!r}"
        if got is not None:
            taken += 1
            assert got == want, text
    assert taken >= 1500  # (some random texts are no filters: lark refuses them too)


def test_a_first_filter_needs_no_lark():
    """A new process parses a filter without importing lark (whose import and grammar build cost
    ~100 ms); a filter with a mistake still gets lark's precise message."""
    code = ("import sys; from runyard.select.filter import parse_filter; "
            "parse_filter('flag:lr < 0.01 and scalar:loss <= 0.3 or not (x in [1, \"a\"])'); "
            "print('lark' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr
    with pytest.raises(SelectError, match="unexpected"):
        parse_filter("flag:lr < < 0.01")
