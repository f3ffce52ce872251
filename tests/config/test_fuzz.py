"""Fuzzing the strict reader and the loader: whatever a file holds, `validate` answers with
diagnostics that point into it, never with an exception.

Three sources of input: random bytes, random text, and valid documents broken at random
(characters that mean something to YAML inserted, deleted or doubled; lines dropped,
doubled or re-indented; values replaced by scalars that YAML 1.2 reads in surprising ways).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.config.loader import Configuration, load_config
from runner.config.yamlread import read_yaml
from runner.spec.diagnostics import Diagnostic

JOB = """\
# yaml-language-server: $schema=../schemas/runner.schema.json
apiVersion: runner/v1
kind: Job
name: nightly-export
description: Export yesterday's orders to the warehouse
labels: {team: data, tier: gold}
schedule:
  mode: auto
  cron: "0 2 * * 1-5"
  timezone: Europe/Berlin
  enabled: true
  jitter: 0s
  overlap: skip
  catchup: latest
  startingDeadline: 2d
status: start
disabled: false
holdOnFailure: 3
after: [orders-import]
timeout: 2h
retries: {limit: 2, delay: 30s, backoff: 2, maxDelay: 10m}
continueOnError: false
env: {TARGET: warehouse}
workdir: /srv/export
history: {keepRuns: 200, keepDays: 90}
tasks:
  - name: extract
    run: ./extract.sh --day "$RUNNER_SCHEDULED_FOR"
  - name: transform
    argv: [python, transform.py]
    timeout: 20m
  - name: approve
    kind: manual
    prompt: Check the row counts in the extract log
  - name: load
    run: ./load.sh
    after: [transform, approve]
  - name: vacuum
    run: ./vacuum.sh
    active: false
holds:
  - name: wait-for-ledger
    tasks: [load]
    dependsOn: {job: ledger-close, task: publish}
    reason: load only after the ledger is closed
"""

OTHERS = """\
apiVersion: runner/v1
kind: Job
name: orders-import
labels: {tier: gold}
schedule: {every: 15m}
tasks:
  - {name: fetch, argv: [./fetch.sh, --all]}
---
apiVersion: runner/v1
kind: Job
name: ledger-close
labels:
  team: finance
tasks:
  - &step
    name: publish
    run: ./publish.sh
    retries:
      limit: 1
  - <<: *step
    name: notify
"""

HOLD = """\
apiVersion: runner/v1
kind: Hold
name: year-end-freeze
jobs: [orders-import]
selector: {labels: {tier: gold}}
tasks: [fetch]
until: 2027-01-04T08:00:00+01:00
dependsOn: {job: ledger-close, task: publish}
reason: |
  Year-end change freeze;
  ask #finance before lifting it
"""

BASES = [JOB, HOLD, JOB + "---\n" + HOLD, OTHERS]

# What means something to YAML, or to the reader's limits and checks.
TOKENS = [
    *":-[]{}&*!\t\n\"' #,?|>%@`\\",
    ": ",
    "- ",
    "---\n",
    "...\n",
    "&a ",
    "*a",
    "<<: ",
    "!!str ",
    "!!int ",
    "!!binary ",
    "!custom ",
    "? ",
    "\r\n",
    "\x00",
    "\x85",
    "\ufeff",
    "é",
    "\U0001f600",
]

# Scalars that YAML 1.2 reads in surprising ways, or that the checks refuse.
SURPRISES = [
    *["yes", "no", "on", "off", "~", "null", "true", "False", "", "''", '""'],
    *["0", "-1", "0x1F", "0o17", "0755", "1e400", ".inf", "-.Inf", ".nan"],
    *["1.5h", "20x", "0s", "2027-01-04", "2027-01-04T08:00:00", "@reboot", "Europe/Berln"],
    *["[]", "{}", "[a, b]", "{a: 1}", "[extrct]", "runner/v2", "Nightly_Export"],
    *["*a", "&a x", "!!int", "!!int x", "!!float 1", "|\n  x", ">-\n  y", '"0 25 * * *"'],
]
SCALARS = st.one_of(
    st.sampled_from(SURPRISES),
    st.integers().map(str),
    st.floats().map(str),
    st.text(max_size=12),
)


@st.composite
def broken_documents(draw: st.DrawFn) -> str:
    """A valid document with 1 to 6 random edits."""
    text: str = draw(st.sampled_from(BASES))
    for _ in range(draw(st.integers(1, 6))):
        text = draw(_edit(text))
    return text


def _edit(text: str) -> st.SearchStrategy[str]:
    lines = text.split("\n")
    at = st.integers(0, len(text))
    line_no = st.integers(0, len(lines) - 1)
    return st.one_of(
        st.tuples(at, st.sampled_from(TOKENS)).map(lambda p: text[: p[0]] + p[1] + text[p[0] :]),
        at.map(lambda i: text[:i] + text[i + 1 :]),
        at.map(lambda i: text[:i] + text[i : i + 1] * 2 + text[i + 1 :]),
        line_no.map(lambda n: "\n".join(lines[:n] + lines[n + 1 :])),
        line_no.map(lambda n: "\n".join(lines[: n + 1] + lines[n:])),
        st.tuples(line_no, st.sampled_from(["", " ", "  ", "\t"])).map(
            lambda p: "\n".join([*lines[: p[0]], p[1] + lines[p[0]].lstrip(), *lines[p[0] + 1 :]])
        ),
        st.tuples(line_no, SCALARS).map(lambda p: _replace_value(lines, *p)),
    )


def _replace_value(lines: list[str], n: int, scalar: str) -> str:
    """Line `n` with what follows its first `: ` replaced by `scalar`."""
    line = lines[n]
    if ": " in line:
        line = line[: line.index(": ") + 2] + scalar
    return "\n".join([*lines[:n], line, *lines[n + 1 :]])


def _check_places(diagnostics: list[Diagnostic], raw: bytes) -> None:
    """Every diagnostic is somewhere in the file (the line after the last at most)."""
    last_line = len(raw.decode("utf-8", "replace").splitlines()) + 1
    for d in diagnostics:
        assert d.line >= 1 and d.column >= 1, d.text()
        if d.file.endswith(("f.yaml", "case.yaml")):
            assert d.line <= last_line, d.text()
        assert d.message and d.code, d
        assert d.text() and d.as_json()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for all examples (hypothesis runs them in one test call): the file under
    test is rewritten each time."""
    return tmp_path_factory.mktemp("fuzz")


def _load(folder: Path, raw: bytes, *, companion: str | None = None) -> Configuration:
    (folder / "case.yaml").write_bytes(raw)
    other = folder / "other.yaml"
    if companion is None:
        other.unlink(missing_ok=True)
    else:
        other.write_text(companion)
    return load_config([folder])


# No example database: it would be kept in the working tree.
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


def test_the_bases_are_valid(folder: Path) -> None:
    for base in BASES:
        loaded = _load(folder, base.encode(), companion=OTHERS if base != OTHERS else None)
        assert [d.text() for d in loaded.diagnostics] == []


# Awkward values of every YAML type, for every field in turn.
AWKWARD = [
    *["", "yes", "~", "-1", "0", "1e400", ".nan", '"3"', "20x", "!!int 1"],
    *["[]", "{}", "[[]]", "[{}]", "[a, b]", "{a: 1}", "{a: []}", "[1, true, null]"],
]


def test_every_value_replaced_by_each_awkward_value(folder: Path) -> None:
    """Systematic where the tests below are random: each `key: value` line of a valid
    file gets each awkward value (this is how `kind: []` was found to raise TypeError).
    Any exception is collected, so one run lists them all."""
    lines = (JOB + "---\n" + HOLD).split("\n")
    crashes = []
    for n, line in enumerate(lines):
        if ": " not in line:
            continue
        for value in AWKWARD:
            raw = _replace_value(lines, n, value).encode()
            try:
                _check_places(_load(folder, raw, companion=OTHERS).diagnostics, raw)
            except Exception as exc:
                crashes.append(f"{line.strip()!r} -> {value!r}: {type(exc).__name__}: {exc}")
    assert crashes == []


@settings(FUZZ, max_examples=300)
@given(raw=st.binary(max_size=400))
def test_random_bytes(raw: bytes, folder: Path) -> None:
    _check_places(read_yaml(raw, "f.yaml").diagnostics, raw)
    _check_places(_load(folder, raw).diagnostics, raw)


@settings(FUZZ, max_examples=300)
@given(text=st.text(max_size=300))
def test_random_text(text: str, folder: Path) -> None:
    raw = text.encode()
    _check_places(read_yaml(raw, "f.yaml").diagnostics, raw)
    _check_places(_load(folder, raw).diagnostics, raw)


@settings(FUZZ, max_examples=300)
@given(text=st.lists(st.sampled_from([*TOKENS, "a", "b", "0", "1"]), max_size=60).map("".join))
def test_random_yaml_punctuation(text: str, folder: Path) -> None:
    raw = text.encode()
    _check_places(read_yaml(raw, "f.yaml").diagnostics, raw)
    _check_places(_load(folder, raw).diagnostics, raw)


@settings(FUZZ, max_examples=600)
@given(text=broken_documents())
def test_broken_documents(text: str, folder: Path) -> None:
    raw = text.encode()
    _check_places(read_yaml(raw, "f.yaml").diagnostics, raw)
    _check_places(_load(folder, raw, companion=OTHERS).diagnostics, raw)
