"""The cold index reader (issue 10, point 7): it reads runs with raw os calls and no directory
listings, and must read what PyYAML and Guild AI read, refuse what it cannot read safely, and
never block on a FIFO."""

from __future__ import annotations

import pytest

from conftest import write
from runyard.store import attrs


@pytest.mark.parametrize("text, value", [
    ("epochs=22 lr=0.1 optimizer=adam\n", "epochs=22 lr=0.1 optimizer=adam"),  # Guild's default label
    ("0e3271491d34940b80ef228942f3848f\n", "0e3271491d34940b80ef228942f3848f"),  # a digest
    ("0757\n", 495),  # YAML 1.1 octal, as PyYAML (and Guild) read it
    ("k: +.5\n", {"k": "+.5"}),  # a string to PyYAML, not a float
    ("- .5\n", [0.5]),
    ("0b0101\n", 5),
])
def test_fast_reader_reads_as_pyyaml(tmp_path, text, value):
    import yaml

    p = write(tmp_path / "a", text)
    assert attrs.read(p) == yaml.safe_load(text) == value
