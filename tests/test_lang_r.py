"""R scripts: flags, #| annotations, rewriting of the run's copy, and running via Rscript.

The inspection and rewriting tests need no R. Tests that run R fail (never skip)
when Rscript is missing: install it with ``apt-get install r-base-core``.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from runyard.errors import FlagError, UsageError
from runyard.lang import r

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train.R"


# -- helpers ----------------------------------------------------------------


@pytest.fixture
def rscript() -> str:
    """Path of Rscript; the test FAILS (with what to install) when R is missing."""
    found = shutil.which("Rscript")
    if not found:
        pytest.fail("R is required for this test: install it with `apt-get install -y r-base-core`")
    return found


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def inspect(tmp_path: Path, text: str, name: str = "train.R") -> r.Script:
    return r.inspect(write(tmp_path / name, text).absolute())


def flags_of(tmp_path: Path, text: str) -> dict:
    return {k: (f.default, f.type) for k, f in inspect(tmp_path, text).flags.items()}


def rewritten(text: str, values: dict) -> str:
    src = textwrap.dedent(text).lstrip("\n")
    out = r.rewrite(src, values)
    assert out.count("\n") == src.count("\n"), "line count changed"
    return out


def r_values(rscript: str, path: Path, names: list[str]) -> list[str]:
    """Source ``path`` in R and return deparse() of each named variable."""
    code = (
        f"source({str(path)!r}, local = TRUE); "
        f"for (.v in c({', '.join(repr(n) for n in names)})) cat(deparse(get(.v)), sep = '', fill = TRUE)"
    )
    p = subprocess.run([rscript, "-e", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.splitlines()


def run_dir_for(tmp_path: Path, text: str, values: dict | None = None, seed: int | None = 12345,
                name: str = "train.R") -> tuple[r.Script, Path]:
    """A project with one script, and a run directory holding its rewritten copy."""
    project = tmp_path / "project"
    script = r.inspect(write(project / name, text).absolute())
    run_dir = tmp_path / "run"
    shutil.copytree(project, run_dir)
    (run_dir / ".guild" / "attrs").mkdir(parents=True)
    if seed is not None:
        (run_dir / ".guild" / "attrs" / "random_seed").write_text(f"{seed}\n")
    all_values = {k: f.default for k, f in script.flags.items()}
    all_values.update(values or {})
    r.apply_flags(script, run_dir, all_values)
    return script, run_dir


def run(script: r.Script, run_dir: Path) -> subprocess.CompletedProcess:
    argv, env = r.command(script, run_dir, {})
    return subprocess.run(argv, cwd=run_dir, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=60)


# -- flags of a script (§4.1) ---------------------------------------------------


def test_basic_script_flags(tmp_path):
    # Appendix A.1 (basic.R)
    flags = flags_of(tmp_path, """
        x <- .1
        noise <- .2

        bool <- TRUE

        loss <- (sin(5 * x) * (1 - tanh(x   ^    2)) + rnorm(1) * noise)
        cat("loss:", loss, "\\n")
        """)
    assert flags == {"x": (0.1, "number"), "noise": (0.2, "number"), "bool": (True, "boolean")}


def test_literal_kinds_and_types(tmp_path):
    flags = flags_of(tmp_path, r'''
        d <- 2.5
        whole <- 10
        i <- 10L
        ie <- 1e5L
        hex <- 0x10
        hexi <- 0x10L
        e <- 1e-3
        s <- "a \"quoted\"\n"
        s1 <- 'single'
        raw <- r"(C:\path)"
        raw2 <- R"--[x]--"
        yes <- TRUE
        no = FALSE
        neg <- -1.5
        pos <- + 123L
        twice <- - -2
        z <- 1+1i
        z0 <- 0+0i
        zi <- -3i
        big <- -Inf
        `odd name` <- 1
        ''')
    assert flags == {
        "d": (2.5, "number"), "whole": (10, "number"), "i": (10, "int"), "ie": (100000, "int"),
        "hex": (16, "number"), "hexi": (16, "int"), "e": (0.001, "number"),
        "s": ('a "quoted"\n', "string"), "s1": ("single", "string"), "raw": ("C:\\path", "string"),
        "raw2": ("x", "string"), "yes": (True, "boolean"), "no": (False, "boolean"),
        "neg": (-1.5, "number"), "pos": (123, "int"), "twice": (2, "number"),
        "z": ("1+1i", "string"), "z0": ("0+0i", "string"), "zi": ("0-3i", "string"),
        "big": (-math.inf, "number"), "odd name": (1, "number"),
    }


def test_not_flags(tmp_path):
    flags = flags_of(tmp_path, """
        pow <- 2^8
        t <- T
        n <- NULL
        na <- NA
        nan <- NaN
        v <- c(1, 2)
        call <- f(1)
        sym <- pow
        paren <- (1)
        diff <- 1 - 2
        sum2 <- 1 + 2
        chain <- other <- 1
        deep <<- 1
        1 -> arrow
        l$y <- 1
        l[1] <- 1
        names(l) <- "a"
        f <- function(x = 1) {
          inner <- 2
        }
        if (TRUE) in_if <- 3
        {
          in_block <- 4
        }
        ok <- 1
        """)
    assert flags == {"ok": (1, "number")}


def test_first_literal_assignment_wins(tmp_path):
    script = inspect(tmp_path, """
        x <- 1
        x <- 2
        y <- readLines("f")
        y <- "a"
        """)
    assert {k: f.default for k, f in script.flags.items()} == {"x": 1, "y": "a"}


def test_statements_continue_after_operators_and_headers(tmp_path):
    flags = flags_of(tmp_path, """
        a <-
          1
        b <- 1 +
          2i
        f <- function(x)
          x + 1
        g <- \\(x)
          x
        if (a > 0)
          c <- 5
        d <- 4; e = "x"  # two flags on one line
        """)
    assert flags == {"a": (1, "number"), "b": ("1+2i", "string"), "d": (4, "number"), "e": ("x", "string")}


def test_unreadable_script_is_one_line_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"train.R:2: .*unterminated string"):
        inspect(tmp_path, 'x <- 1\ny <- "oops\n')
    with pytest.raises(UsageError, match=r"train.R:1: .*never closed"):
        inspect(tmp_path, "f(1,\n")


def test_statement_boundaries_match_r_parser(tmp_path, rscript):
    text = textwrap.dedent(r'''
        #!/usr/bin/env Rscript
        x <- 1; y = 2L
        s <- "multi
        line"; raw <- r"-(a "(b)" )-"
        z <- -1 + # comment
          2i
        f <- function(x)
          x + 1
        g <- \(x) x |> sqrt()
        h <- function(a, b = c(1,
                               2)) {
          a %in% b
        }
        if (x > 1) {
          q <- 1
        } else q <- 2
        for (i in 1:3)
          print(i)
        while (FALSE) next
        repeat
          break
        y ~ x + `odd name`
        k <- x[[1]][1]
        m <- list(a = 1,
                  b = 2)$a
        -1
        p <- 'a\'b' ; 5 -> w
        ''').lstrip()
    path = write(tmp_path / "t.R", text)
    p = subprocess.run(
        [rscript, "-e", f'ex <- parse({str(path)!r}, keep.source = TRUE); '
                        'for (s in attr(ex, "srcref")) cat(s[1], s[3], "\\n")'],
        capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    expected = [tuple(map(int, line.split())) for line in p.stdout.splitlines()]
    got = [(r._line_of(text, st[0].start) + 1, r._line_of(text, st[-1].end - 1) + 1)
           for st in r.statements(r.tokenize(text), text)]
    assert got == expected


# -- annotations and front matter (§4) --------------------------------------------


def test_front_matter_and_annotations(tmp_path):
    # Appendix A.2 (hash-pipe-anno.R)
    script = inspect(tmp_path, r"""
        #!/usr/bin/env Rscript
        #| requires:
        #|   - file: file.txt
        #|     description: File dependency
        #| output-scalars:
        #|   step: 'step: (\value)'
        #|   loss: 'loss: (\value)'

        library(tensorflow)

        #| description: "`x` by any other name would smell as sweet."
        x <- .1

        #| {max: 1, min: 0}
        noise <- .3

        #| choices: [bar, baz, foo]
        type <- "foo"

        init_phase <- 0+0i
        x <- readLines("file.txt")
        """)
    assert script.options["requires"] == [{"file": "file.txt", "description": "File dependency"}]
    assert script.options["output-scalars"] == {"step": r"step: (\value)", "loss": r"loss: (\value)"}
    assert script.flags_dest == "globals"
    f = script.flags
    assert list(f) == ["x", "noise", "type", "init_phase"]
    assert f["x"].description == "`x` by any other name would smell as sweet." and f["x"].default == 0.1
    assert (f["noise"].min, f["noise"].max, f["noise"].default) == (0, 1, 0.3)
    assert f["type"].choices == ["bar", "baz", "foo"] and f["type"].type == "string"
    assert (f["init_phase"].default, f["init_phase"].type) == ("0+0i", "string")


@pytest.mark.parametrize(
    "text, options, annotated",
    [
        # a block at line 1 is front matter, not the flag's annotation
        ("#| description: the script\nx <- 1\n", {"description": "the script"}, None),
        # line 2 after a shebang is front matter too
        ("#!/usr/bin/env Rscript\n#| echo: false\nx <- 1\n", {"echo": False}, None),
        # a block further down annotates the flag right below it
        ("# a comment\n#| description: a flag\nx <- 1\n", {}, "a flag"),
        ("#!/usr/bin/env Rscript\n\n#| description: a flag\nx <- 1\n", {}, "a flag"),
        # front matter, then a separate block for the flag
        ("#| description: top\n\n#| description: a flag\nx <- 1\n", {"description": "top"}, "a flag"),
        # a blank line breaks the attachment
        ("y <- 2\n#| description: lost\n\nx <- 1\n", {}, None),
        # multi-line YAML
        ("y <- 2\n#| description: >\n#|   two\n#|   lines\nx <- 1\n", {}, "two lines"),
    ],
)
def test_annotation_matrix(tmp_path, text, options, annotated):
    script = r.inspect(write(tmp_path / "s.R", text).absolute())
    assert script.options == options
    assert (script.flags["x"].description or None) == annotated


def test_annotation_keys(tmp_path):
    script = inspect(tmp_path, """
        y <- 0
        #| type: int
        #| required: true
        #| min: 2
        #| max: 50
        #| null-label: auto
        a <- 40; b <- 3
        """)
    a, b = script.flags["a"], script.flags["b"]
    assert (a.type, a.required, a.min, a.max, a.extra) == ("int", True, 2, 50, {"null-label": "auto"})
    assert b.max == 50  # several flags on one line share the block above the line


def test_invalid_annotation_names_the_line(tmp_path):
    with pytest.raises(UsageError, match=r"train.R:2: invalid '#\|' annotation"):
        inspect(tmp_path, "y <- 1\n#| {min: 0\nx <- 1\n")


def test_front_matter_flags_replace_inference(tmp_path):
    script = inspect(tmp_path, """
        #| flags:
        #|   lr: {default: 0.1, min: 0}
        #|   epochs: 5
        lr <- 0.1
        other <- 3
        """)
    assert list(script.flags) == ["lr", "epochs"]
    assert (script.flags["lr"].type, script.flags["lr"].min) == ("number", 0)
    assert (script.flags["epochs"].default, script.flags["epochs"].type) == (5, "int")


def test_flags_dest_r_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "flags.R", """
        # flags for train.R
        #| {min: 1}
        epochs <- 10L
        lr <- 0.01
        """)
    script = inspect(tmp_path, """
        #| flags-dest: ./flags.R
        source("flags.R")
        unrelated <- 1
        """)
    assert script.flags_dest == "flags.R"
    assert {k: f.default for k, f in script.flags.items()} == {"epochs": 10, "lr": 0.01}
    assert script.flags["epochs"].min == 1
    run_dir = tmp_path / "run"
    shutil.copytree(tmp_path, run_dir, ignore=shutil.ignore_patterns("run"))
    r.apply_flags(script, run_dir, {"epochs": 20, "lr": 0.01})
    assert (run_dir / "flags.R").read_text() == "# flags for train.R\n#| {min: 1}\nepochs <- 20L\nlr <- 0.01\n"
    assert (run_dir / "train.R").read_text() == (tmp_path / "train.R").read_text()
    assert (tmp_path / "flags.R").read_text().splitlines()[2] == "epochs <- 10L"


@pytest.mark.parametrize("dest", ["./flags.yml", "flags.yml", "config:flags.yml"])
def test_flags_dest_yml(tmp_path, monkeypatch, dest):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "flags.yml", "# comment\nlr: 0.1\nmodel:\n  layers: 2\n")
    script = inspect(tmp_path, f"""
        #| flags-dest: {dest}
        flags <- yaml::read_yaml("flags.yml")
        """)
    assert script.flags_dest == "flags.yml"
    assert {k: (f.default, f.type) for k, f in script.flags.items()} == {
        "lr": (0.1, "number"), "model.layers": (2, "int")}
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(tmp_path / "flags.yml", run_dir)
    r.apply_flags(script, run_dir, {"lr": 0.1, "model.layers": 2})
    assert (run_dir / "flags.yml").read_text().startswith("# comment")  # defaults: untouched
    r.apply_flags(script, run_dir, {"lr": 0.5, "model.layers": 2})
    assert yaml.safe_load((run_dir / "flags.yml").read_text()) == {"lr": 0.5, "model": {"layers": 2}}
    assert (tmp_path / "flags.yml").read_text().startswith("# comment")


def test_flags_dest_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="flags-dest file not found: missing.yml"):
        inspect(tmp_path, "#| flags-dest: ./missing.yml\nx <- 1\n")
    with pytest.raises(UsageError, match="outside the project"):
        inspect(tmp_path, "#| flags-dest: ../flags.yml\nx <- 1\n")
    write(tmp_path / "flags.txt", "x\n")
    with pytest.raises(UsageError, match="unsupported flags-dest"):
        inspect(tmp_path, "#| flags-dest: ./flags.txt\nx <- 1\n")
    assert inspect(tmp_path, "#| flags-dest: ./train.R\nx <- 1\n").flags_dest == "globals"


def test_example_train_r():
    script = r.inspect(EXAMPLE)
    span, family = script.flags["span"], script.flags["family"]
    assert (span.default, span.type, span.min, span.max) == (0.75, "number", 0.3, 3)
    assert (family.default, family.choices) == ("gaussian", ["gaussian", "symmetric"])
    assert list(script.flags) == ["span", "family"]


# -- rewriting (§5.1) ----------------------------------------------------------------


def test_rewrite_hello_keeps_everything_but_the_literal():
    # Appendix A.3
    assert rewritten("msg = 'hello'\ncat(msg, '\\n')\n", {"msg": "hi"}) == 'msg = "hi"\ncat(msg, \'\\n\')\n'


def test_rewrite_several_assignments_on_one_line():
    out = rewritten("a <- 1; b = 'x';c<-TRUE # note\n", {"a": 2.5, "b": "yy", "c": False})
    assert out == 'a <- 2.5; b = "yy";c<-FALSE # note\n'


def test_rewrite_multiline_string_keeps_line_count():
    src = 's <- "one\ntwo\nthree"; n <- 1 # end\nprint(s)\n'
    out = rewritten(src, {"s": "new", "n": 2})
    assert out == 's <- "new"; n <- 2 # end\n\n\nprint(s)\n'


def test_rewrite_signed_literals():
    assert rewritten("x <- -1.5\n", {"x": 2}) == "x <- +2\n"
    assert rewritten("x <- -1.5\n", {"x": -0.25}) == "x <- -0.25\n"
    assert rewritten("i2 <- - 123L\n", {"i2": 123}) == "i2 <- + 123L\n"
    assert rewritten("x <- 5\n", {"x": -3}) == "x <- -3\n"
    assert rewritten("x <- - -5\n", {"x": -3}) == "x <- - +3\n"
    assert rewritten("x <- -Inf\n", {"x": math.inf}) == "x <- +Inf\n"
    # a signed number turned into a string loses its sign
    assert rewritten("x <- -1\n", {"x": "a"}) == 'x <- "a"\n'


def test_rewrite_integers_and_doubles():
    assert rewritten("n <- 4L\n", {"n": 8}) == "n <- 8L\n"
    assert rewritten("n <- 1e5L\n", {"n": 7.0}) == "n <- 7L\n"
    assert rewritten("x <- 0.5\n", {"x": 3}) == "x <- 3\n"
    assert rewritten("x <- 0.5\n", {"x": 1e-20}) == "x <- 1e-20\n"
    assert rewritten("x <- 0.5\n", {"x": 1 / 3}) == "x <- 0.3333333333333333\n"
    assert rewritten("x <- 1\n", {"x": True}) == "x <- TRUE\n"
    # too big for an R integer: written as a double
    assert rewritten("n <- 4L\n", {"n": 3_000_000_000}) == "n <- 3000000000\n"


def test_rewrite_strings_and_raw_strings():
    assert rewritten('p <- r"(C:\\dir)"\n', {"p": "abc"}) == 'p <- "abc"\n'
    assert rewritten("s <- 'a'\n", {"s": 'q"\\\n\t'}) == 's <- "q\\"\\\\\\n\\t"\n'
    assert rewritten('s <- "a"\n', {"s": None}) == "s <- NULL\n"


def test_rewrite_complex_numbers():
    assert rewritten("z <- 2 + 2i\n", {"z": "3-1.5i"}) == "z <- 3-1.5i\n"
    assert rewritten("z <- 1i\n", {"z": "2+3i"}) == "z <- 2+3i\n"
    assert rewritten("z <- -1+2i\n", {"z": "4+5i"}) == "z <- 4+5i\n"
    # across lines: each part keeps its place; the comment stays
    out = rewritten("z <- 1 + # comment\n  1i\n", {"z": "-2-3i"})
    assert out == "z <- -2 - # comment\n  3i\n"
    # equal value in another spelling: untouched
    assert rewritten("z <- 0+0i\n", {"z": "0i"}) == "z <- 0+0i\n"
    with pytest.raises(FlagError, match="'abc' is not a complex number"):
        r.rewrite("z <- 1i\n", {"z": "abc"})


def test_check_values_rejects_non_complex_before_a_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = inspect(tmp_path, "z <- 1+1i\nx <- 1\n")
    r.check_values(script, {"z": "2-2i", "x": 5})
    with pytest.raises(FlagError, match="invalid value for flag 'z': 'oops' is not a complex number"):
        r.check_values(script, {"z": "oops", "x": 5})


def test_rewrite_leaves_defaults_and_others_alone():
    src = "lr <- 1e-3 # keep\nname <- 'hello'\nflag <- TRUE\nn <- 10L\nlr <- 5\nunknown <- f()\n"
    assert r.rewrite(src, {"lr": 0.001, "name": "hello", "flag": True, "n": 10, "extra": 1}) == src
    # only the first assignment is rewritten
    out = rewritten(src, {"lr": 0.5})
    assert out.splitlines()[0] == "lr <- 0.5 # keep" and out.splitlines()[4] == "lr <- 5"


def test_rewrite_keeps_crlf_line_endings():
    src = 's <- "a\r\nb"; x <- 1\r\ny <- 2\r\n'
    out = r.rewrite(src, {"s": "c", "x": 3, "y": 4})
    assert out == 's <- "c"; x <- 3\r\n\r\ny <- 4\r\n'


def test_apply_flags_writes_run_copy_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = "#| {min: .3, max: 3}\nspan <- .75\nfamily <- \"gaussian\"\n"
    script = inspect(tmp_path, src)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(tmp_path / "train.R", run_dir)
    r.apply_flags(script, run_dir, {"span": 1.5, "family": "symmetric"})
    assert (run_dir / "train.R").read_text() == '#| {min: .3, max: 3}\nspan <- 1.5\nfamily <- "symmetric"\n'
    assert (tmp_path / "train.R").read_text() == src


def test_rewritten_files_parse_and_hold_the_values(tmp_path, rscript):
    src = textwrap.dedent(r'''
        a <- 1; b = 'x'; c <- TRUE
        s <- "multi
        line"; n <- 4L
        neg <- -1.5
        i2 <- - 123L
        raw <- r"[C:\dir]"
        z <- 2 + 2i
        z2 <- 1 + # comment
          1i
        esc <- "plain"
        ''').lstrip()
    values = {"a": -2, "b": "y", "c": False, "s": "new", "n": 9, "neg": 2, "i2": 123, "raw": "abc",
              "z": "3-1i", "z2": "-2+5i", "esc": 'q"\\\n\tü'}
    path = tmp_path / "rw.R"
    path.write_text(rewritten(src, values), encoding="utf-8")
    got = r_values(rscript, path, list(values))
    assert got == ["-2", '"y"', "FALSE", '"new"', "9L", "2", "123L", '"abc"', "3-1i", "-2+5i",
                   '"q\\"\\\\\\n\\tü"']


# -- running (§5) -------------------------------------------------------------------


def test_run_echoes_and_writes_rewritten_values(tmp_path, rscript):
    script, run_dir = run_dir_for(tmp_path, """
        # a comment
        x <- 1
        f <- function(v) {
          v * 2
        }
        f(x)
        cat("pi:", pi, "\\n")
        """, {"x": 21})
    p = run(script, run_dir)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        "> # a comment", "> x <- 21", "> f <- function(v) {", "+   v * 2", "+ }", "> f(x)", "[1] 42",
        '> cat("pi:", pi, "\\n")', "pi: 3.14159265358979 ",
    ]


def test_run_without_echo(tmp_path, rscript):
    script, run_dir = run_dir_for(tmp_path, """
        #| echo: false
        x <- 2
        x * 3
        cat("done\\n")
        """)
    p = run(script, run_dir)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "[1] 6\ndone\n"


def test_echo_can_be_turned_off_mid_script(tmp_path, rscript):
    script, run_dir = run_dir_for(tmp_path, "x <- 1\noptions(echo = FALSE)\ny <- 2\ncat(y, '\\n')\n")
    p = run(script, run_dir)
    assert p.stdout == "> x <- 1\n> options(echo = FALSE)\n2 \n"


def test_plot_lands_in_plots_dir(tmp_path, rscript):
    script, run_dir = run_dir_for(tmp_path, "plot(1:10)\nhist(rnorm(50))\npng('mine.png'); plot(1); dev.off()\n")
    p = run(script, run_dir)
    assert p.returncode == 0, p.stderr
    for name in ("plots/Rplot001.png", "plots/Rplot002.png", "mine.png"):
        assert (run_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert not (run_dir / "Rplots.pdf").exists()


@pytest.mark.parametrize("seed", [12345, 4_000_000_000, -3_000_000_000])
def test_seed_makes_runif_reproducible(tmp_path, rscript, seed):
    script, run_dir = run_dir_for(tmp_path, "cat(runif(1), '\\n')\n", seed=seed)
    p = run(script, run_dir)
    assert p.returncode == 0, p.stderr
    printed = p.stdout.splitlines()[-1].strip()
    # A seed outside R's integer range is replaced (not folded): the attribute is the seed used.
    used = int((run_dir / ".guild" / "attrs" / "random_seed").read_text())
    assert used == seed if abs(seed) <= 2**31 - 1 else 0 <= used <= 2**31 - 1
    check = subprocess.run([rscript, "-e", f"set.seed({used}); cat(format(runif(1), digits = 15))"],
                           capture_output=True, text=True, timeout=60)
    assert printed == check.stdout.strip()
    again = run(script, run_dir)
    assert again.stdout.splitlines()[-1].strip() == printed


def test_error_writes_r_error_and_exits_nonzero(tmp_path, rscript):
    script, run_dir = run_dir_for(tmp_path, """
        f <- function() stop("boom: \\"quoted\\"")
        g <- function() f()
        cat("before\\n")
        g()
        cat("after\\n")
        """)
    p = run(script, run_dir)
    assert p.returncode != 0
    assert "before" in p.stdout and "after" not in p.stdout
    assert 'Error in f() : boom: "quoted"' in p.stderr
    err = yaml.safe_load((run_dir / ".guild" / "attrs" / "r_error").read_text())
    assert err == {"message": 'boom: "quoted"', "call": "f()",
                   "traceback": ['stop("boom: \\"quoted\\"")', "f()", "g()"]}
    assert sorted(os.listdir(run_dir / ".guild" / "attrs")) == ["r_error", "random_seed"]


def test_top_level_error_has_no_call(tmp_path, rscript):
    script, run_dir = run_dir_for(tmp_path, "x <- log(-1)\nstop('plain')\n", seed=None)
    p = run(script, run_dir)
    assert p.returncode != 0
    assert "Error: plain" in p.stderr
    err = yaml.safe_load((run_dir / ".guild" / "attrs" / "r_error").read_text())
    assert err["message"] == "plain" and err["call"] is None


def test_example_runs_with_scalars(tmp_path, rscript):
    script, run_dir = run_dir_for(tmp_path, EXAMPLE.read_text(), {"span": 1.5, "family": "symmetric"})
    p = run(script, run_dir)
    assert p.returncode == 0, p.stderr
    assert "> span <- 1.5" in p.stdout and '> family <- "symmetric"' in p.stdout
    lines = {ln.split(":")[0]: float(ln.split(":")[1]) for ln in p.stdout.splitlines()
             if ln.startswith(("mse:", "rmse:"))}
    assert lines["rmse"] == pytest.approx(math.sqrt(lines["mse"]))
    assert (run_dir / "plots" / "Rplot001.png").exists()


def test_command_shape(tmp_path):
    script = inspect(tmp_path, "x <- 1\n")
    if shutil.which("Rscript") is None:
        pytest.fail("R is required for this test: install it with `apt-get install -y r-base-core`")
    argv, env = r.command(script, tmp_path, {"x": 1})
    assert argv[1:] == ["--no-save", "--no-restore", str(r.DRIVER), "train.R", "TRUE"]
    assert Path(argv[0]).name == "Rscript" and r.DRIVER.is_file() and env == {}


def test_missing_r_is_one_clear_usage_error(tmp_path, monkeypatch):
    script = inspect(tmp_path, "x <- 1\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    message = ("R is not installed: Rscript was not found on PATH. Install R (Debian/Ubuntu: "
               "apt-get install r-base-core; other systems: https://www.r-project.org/) and try again.")
    with pytest.raises(UsageError) as e:
        r.command(script, tmp_path, {})
    assert str(e.value) == message and e.value.exit_code == 2
    with pytest.raises(UsageError, match="R is not installed"):
        r.require_r()


# -- `!expr` annotations: R code evaluated in R (issue 11, point 7) --------------


def test_expr_annotations_are_evaluated_in_r(tmp_path, rscript):
    script = inspect(tmp_path, """
        #| tags: !expr c("tag1", "tag2")
        #| description: !expr paste("made", 'in R')

        #| choices: !expr seq(16, 256, by = 16)
        units <- 32

        #| min: !expr 1/3
        #| max: !expr "2^3"
        x <- 1L
        """)
    assert script.options["tags"] == ["tag1", "tag2"]
    assert script.options["description"] == "made in R"
    assert script.flags["units"].choices == list(range(16, 257, 16))
    assert script.flags["x"].min == pytest.approx(1 / 3, rel=1e-15) and script.flags["x"].max == 8


def test_expr_error_names_the_line_and_rs_message(tmp_path, rscript):
    with pytest.raises(UsageError, match=r"^train\.R:2: '!expr stop\(\"no way\"\)' failed in R: no way$"):
        inspect(tmp_path, """
            #| description: plain
            #| tags: !expr stop("no way")
            x <- 1
            """)


def test_r_starts_only_for_expr(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-r-here"))
    script = inspect(tmp_path, """
        #| description: "no !expr here: a quoted mention"

        #| choices: [1, 2]
        x <- 1
        """)
    assert script.flags["x"].choices == [1, 2]
    with pytest.raises(UsageError, match="R is not installed"):
        inspect(tmp_path, "#| tags: !expr c('a')\nx <- 1\n", name="expr.R")


def test_run_with_expr_tags_through_the_cli(project, rscript):
    from conftest import cli

    write(project / "expr.R", """
        #| tags: !expr c("tag1", "tag2")

        #| choices: !expr seq(16, 256, by = 16)
        units <- 32
        cat("units:", units, "\\n")
        """)
    bad = cli("run", "-y", "expr.R", "units=17")
    assert bad.returncode == 2 and "17 is not one of: 16, 32, 48" in bad.stderr
    done = cli("run", "-y", "expr.R", "units=48")
    assert done.returncode == 0, done.stderr
    info = cli("runs", "info", "--json")
    data = yaml.safe_load(info.stdout)
    assert data["tags"] == ["tag1", "tag2"] and data["flags"]["units"] == 48 and data["exit_status"] == 0
