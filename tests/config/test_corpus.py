"""A corpus of broken job files, one mistake each, and exactly what `validate` says.

Every file (or folder, for mistakes that need two files) under `corpus/` is an otherwise
valid Job or Hold with one mistake of SPEC 1 / 1.1 in it. The table holds the complete
list of diagnostics each must give, as `Diagnostic.text()` prints them, so a missing, an
extra or a misplaced diagnostic fails. Cases too large to commit are generated.

"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from runner.cli import run
from runner.config.loader import load_config
from runner.config.yamlread import MAX_BYTES

CORPUS = Path(__file__).parent / "corpus"

CORE_TAGS = "only the core tags (!!str, !!int, !!float, !!bool, !!null, !!map, !!seq)"
NAME_HELP = (
    "use 1 to 63 lowercase letters, digits, '.', '_' or '-', "
    "starting and ending with a letter or digit"
)
DURATION_HELP = "use whole numbers of d, h, m and s, largest first, like 0s, 30s, 15m, 1h30m or 2d"
CRON_HELP = (
    "use 5 fields (minute hour day-of-month month day-of-week) or one of "
    "@hourly, @daily, @midnight, @weekly, @monthly, @yearly"
)
NOT_BOOL = "must be true or false; got {} (only true and false are booleans)"

EXPECTED: dict[str, list[str]] = {
    # --- YAML: syntax, encoding, tags, keys, aliases ---
    "yaml-syntax.yaml": [
        # the flow list opened at 8:12 is never closed; libyaml notices at the `:` of `run:`
        "yaml-syntax.yaml:9:8: error: YAML syntax: did not find expected ',' or ']' "
        "(while parsing a flow sequence)",
    ],
    "tab-indent.yaml": [
        "tab-indent.yaml:6:1: error: YAML syntax: found a tab character that violates "
        "indentation (while scanning a plain scalar); a tab: YAML is indented with spaces, "
        "not tabs",
    ],
    "not-utf8.yaml": [
        "not-utf8.yaml:4:17: error: file is not UTF-8 text: save it as UTF-8",
    ],
    "duplicate-key.yaml": [
        'duplicate-key.yaml:7:3: error: duplicate key "cron" (first at line 5)',
    ],
    "tag-binary.yaml": [
        f"tag-binary.yaml:4:14: error: tag !!binary is not allowed; {CORE_TAGS}",
    ],
    "tag-custom.yaml": [
        f"tag-custom.yaml:6:10: error: tag !shell is not allowed; {CORE_TAGS}",
    ],
    "alias-bomb.yaml": [
        # (a0 to a8 are no fields of a Job, but the reader refuses the file before that)
        # The budget runs out at the first `*a3` (8:10): the error points at that alias,
        # not at the anchor `&a3` (7:5) it repeats.
        "alias-bomb.yaml:8:10: error: aliases expand past 10,000 nodes; "
        "write the repeated part out or use fewer aliases",
    ],
    "not-a-mapping.yaml": [
        "not-a-mapping.yaml:1:1: error: a resource must be a mapping; got a list",
    ],
    # --- YAML 1.2 scalars against the schema's types ---
    "bool-yes.yaml": [
        "bool-yes.yaml:6:12: error: schedule.enabled: " + NOT_BOOL.format('"yes"'),
    ],
    "bool-no.yaml": [
        "bool-no.yaml:4:11: error: disabled: " + NOT_BOOL.format('"no"'),
    ],
    "bool-on.yaml": [
        "bool-on.yaml:7:22: error: tasks[0].continueOnError: " + NOT_BOOL.format('"on"'),
    ],
    "label-number.yaml": [
        "label-number.yaml:4:28: error: labels.tier: must be a string; got integer 1 "
        '(quote it: "1")',
    ],
    "env-number.yaml": [
        "env-number.yaml:8:13: error: tasks[0].env.PORT: must be a string; got integer 8080 "
        '(quote it: "8080")',
    ],
    "argv-number.yaml": [
        "argv-number.yaml:6:34: error: tasks[0].argv[2]: must be a string; got integer 3 "
        '(quote it: "3")',
    ],
    "count-quoted.yaml": [
        'count-quoted.yaml:4:16: error: holdOnFailure: must be a whole number; got "3"',
    ],
    # --- the schema: fields, enums, names, durations, bounds ---
    "unknown-field-job.yaml": [
        'unknown-field-job.yaml:4:1: error: timout: unknown field (did you mean "timeout"?)',
    ],
    "unknown-field-task.yaml": [
        "unknown-field-task.yaml:7:5: error: tasks[0].continueOnErorr: unknown field "
        '(did you mean "continueOnError"?)',
    ],
    "unknown-field-schedule.yaml": [
        "unknown-field-schedule.yaml:6:3: error: schedule.timeZone: unknown field "
        '(did you mean "timezone"?)',
    ],
    "unknown-field-hold.yaml": [
        'unknown-field-hold.yaml:11:1: error: job: unknown field (did you mean "jobs"?)',
    ],
    "enum-overlap.yaml": [
        "enum-overlap.yaml:6:12: error: schedule.overlap: must be one of skip, queue, "
        'cancel-running, allow; got "forbid"',
    ],
    "enum-catchup.yaml": [
        "enum-catchup.yaml:6:12: error: schedule.catchup: must be one of none, latest, all; "
        'got "always"',
    ],
    "enum-mode.yaml": [
        'enum-mode.yaml:5:9: error: schedule.mode: must be one of auto, manual; got "scheduled"',
    ],
    "enum-status.yaml": [
        'enum-status.yaml:6:9: error: status: must be one of start, paused; got "stopped"',
    ],
    "enum-task-kind.yaml": [
        # Only the kind error: the task is not checked again as a `command` task (the
        # default), which would add a false `prompt is only for manual tasks`.
        "enum-task-kind.yaml:6:11: error: tasks[0].kind: must be one of command, manual; "
        'got "approval"',
    ],
    "api-version.yaml": [
        'api-version.yaml:1:13: error: apiVersion: must be "runner/v1"; got "runner/v2"',
    ],
    "kind-list.yaml": [
        "kind-list.yaml:2:7: error: kind: must be one of Job, Hold, Pool; got a list",
    ],
    "missing-kind.yaml": [
        "missing-kind.yaml:1:1: error: kind: required field is missing; use Job, Hold or Pool",
    ],
    "missing-name.yaml": [
        "missing-name.yaml:1:1: error: name: required field is missing",
    ],
    "name-job.yaml": [
        f'name-job.yaml:3:7: error: name: "Nightly_Export" is not a valid name; {NAME_HELP}',
    ],
    "name-task.yaml": [
        'name-task.yaml:5:11: error: tasks[0].name: "extract data" is not a valid name; '
        + NAME_HELP,
    ],
    "name-with-newline.yaml": [
        # One diagnostic, one line: the newline in the value is shown escaped.
        r'name-with-newline.yaml:5:11: error: tasks[0].name: "extract\n" is not a valid name; '
        + NAME_HELP,
    ],
    "empty-tasks.yaml": [
        "empty-tasks.yaml:4:8: error: tasks: must not be empty",
    ],
    "duration-timeout.yaml": [
        'duration-timeout.yaml:7:14: error: tasks[0].timeout: "20x" is not a duration; '
        + DURATION_HELP,
    ],
    "duration-every.yaml": [
        'duration-every.yaml:5:10: error: schedule.every: "1.5h" is not a duration; '
        + DURATION_HELP,
    ],
    "until-no-offset.yaml": [
        'until-no-offset.yaml:9:12: error: holds[0].until: "2027-01-04T08:00:00" has no offset; '
        "add one, like +01:00 or Z",
    ],
    "retries-negative.yaml": [
        "retries-negative.yaml:4:18: error: retries.limit: must be at least 0; got integer -1",
    ],
    "backoff-low.yaml": [
        "backoff-low.yaml:9:16: error: tasks[0].retries.backoff: must be at least 1.0; "
        "got number 0.5",
    ],
    # --- schedules ---
    "cron-bad.yaml": [
        'cron-bad.yaml:5:9: error: schedule.cron[0]: "0 25 * * *" is not a valid cron '
        'expression: bad hour "25"; use 0-23, or a list, range or step of them',
    ],
    "cron-fields.yaml": [
        f'cron-fields.yaml:5:23: error: schedule.cron[1]: "0 2 * *" has 4 fields; {CRON_HELP}',
    ],
    "cron-reboot.yaml": [
        'cron-reboot.yaml:5:9: error: schedule.cron[0]: "@reboot" is not a supported cron '
        f"macro; {CRON_HELP}",
    ],
    "cron-empty.yaml": [
        # Not silently manual: a manual job with status start would run as soon as it
        # is applied (SPEC 2.2).
        "cron-empty.yaml:5:9: error: schedule.cron: must not be empty",
    ],
    "timezone-unknown.yaml": [
        'timezone-unknown.yaml:6:13: error: schedule.timezone: unknown time zone "Europe/Berln"; '
        "use an IANA name such as Europe/Berlin or UTC",
    ],
    "manual-with-cron.yaml": [
        "manual-with-cron.yaml:6:9: error: schedule.cron: a manual job has no cron; "
        "remove it or set mode: auto",
    ],
    "auto-without-timing.yaml": [
        "auto-without-timing.yaml:5:9: error: schedule.mode: mode: auto needs a cron or an every",
    ],
    "cron-and-every.yaml": [
        "cron-and-every.yaml:6:10: error: schedule.every: give cron or every, not both",
    ],
    "paused-manual.yaml": [
        "paused-manual.yaml:6:9: error: status: paused is not valid for a manual job; only start "
        "(it runs once when apply creates the job), or leave status out (it waits for a "
        "trigger)",
    ],
    # --- tasks ---
    "run-and-argv.yaml": [
        "run-and-argv.yaml:7:11: error: tasks[0].argv: give run or argv, not both",
    ],
    "no-command.yaml": [
        'no-command.yaml:5:5: error: tasks[0]: task "extract" needs run (a shell command) '
        "or argv (a list)",
    ],
    "manual-task-run.yaml": [
        "manual-task-run.yaml:7:10: error: tasks[0].run: a manual task runs nothing; remove run",
    ],
    "prompt-on-command.yaml": [
        "prompt-on-command.yaml:7:13: error: tasks[0].prompt: prompt is only for manual tasks "
        "(kind: manual)",
    ],
    "duplicate-task.yaml": [
        # The first one is named as paths print everywhere: `tasks[0]`.
        'duplicate-task.yaml:7:11: error: tasks[1].name: duplicate task name "extract" '
        "(first at tasks[0])",
    ],
    "task-after-unknown.yaml": [
        'task-after-unknown.yaml:9:13: error: tasks[1].after[0]: unknown task "extrct" '
        '(did you mean "extract"?)',
    ],
    "task-cycle.yaml": [
        "task-cycle.yaml:7:12: error: tasks[0].after: tasks form a cycle: "
        "extract -> load -> extract",
    ],
    # --- jobs and their references ---
    "job-after-unknown.yaml": [
        'job-after-unknown.yaml:11:9: error: after[0]: unknown job "orders-imprt" '
        '(did you mean "orders-import"?)',
    ],
    "job-cycle": [
        "job-cycle/export.yaml:4:8: error: after: jobs form a cycle through after: "
        "export -> report -> export",
        "job-cycle/report.yaml:4:8: error: after: jobs form a cycle through after: "
        "export -> report -> export",
    ],
    "duplicate-job": [
        'duplicate-job/a.yaml:3:7: error: name: Job name "export" is also used at '
        "duplicate-job/b.yaml:1",
        'duplicate-job/b.yaml:3:7: error: name: Job name "export" is also used at '
        "duplicate-job/a.yaml:1",
    ],
    # --- holds ---
    "inline-hold-unknown-task.yaml": [
        "inline-hold-unknown-task.yaml:11:13: error: holds[0].tasks[0]: unknown task "
        '"lod" (did you mean "load"?)',
    ],
    "inline-hold-self.yaml": [
        "inline-hold-self.yaml:9:22: error: holds[0].dependsOn.job: a hold cannot wait for "
        "the job it holds",
    ],
    "hold-waits-on-itself.yaml": [
        'hold-waits-on-itself.yaml:12:18: error: dependsOn.job: the hold covers "ledger-close" '
        "and waits for it, so it could never be released; wait for another job",
    ],
    "depends-on-unknown-job.yaml": [
        "depends-on-unknown-job.yaml:9:22: error: holds[0].dependsOn.job: "
        'unknown job "ledger-close"',
    ],
    "depends-on-unknown-task.yaml": [
        "depends-on-unknown-task.yaml:12:38: error: dependsOn.task: job "
        '"ledger-close" has no task "publsh" (did you mean "publish"?)',
    ],
    "hold-unknown-job.yaml": [
        'hold-unknown-job.yaml:11:8: error: jobs[0]: unknown job "ledger-exprt" '
        '(did you mean "ledger-export"?)',
    ],
    "hold-covers-nothing.yaml": [
        'hold-covers-nothing.yaml:1:1: error: Hold "year-end-freeze" needs jobs or a selector '
        "to say what it holds",
    ],
    # --- warnings ---
    "selector-matches-nothing.yaml": [
        "selector-matches-nothing.yaml:4:11: warning: selector: the selector matches no job",
    ],
    "hold-task-unused.yaml": [
        'hold-task-unused.yaml:14:9: warning: tasks[0]: no job this hold covers has a task "lod" '
        '(did you mean "load"?)',
    ],
}

WARNINGS_ONLY = sorted(
    case for case, lines in EXPECTED.items() if all(": warning: " in line for line in lines)
)
ANNOTATED = re.compile(
    r"(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<sev>\w+): (?P<rest>.*)", re.DOTALL
)


@pytest.fixture
def in_corpus(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Paths print relative to the working directory; read the corpus from inside it."""
    monkeypatch.chdir(CORPUS)
    return CORPUS


def _texts(path: str | Path) -> list[str]:
    return [d.text() for d in load_config([path]).diagnostics]


def test_every_corpus_entry_has_an_expectation() -> None:
    on_disk = sorted(p.name for p in CORPUS.iterdir() if not p.name.startswith("."))
    assert on_disk == sorted(EXPECTED)


def test_the_warnings_only_cases() -> None:
    assert WARNINGS_ONLY == ["hold-task-unused.yaml", "selector-matches-nothing.yaml"]


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_diagnostics_of_each_broken_file(case: str, in_corpus: Path) -> None:
    assert _texts(case) == EXPECTED[case]


def test_the_corpus_without_its_mistakes_is_valid(tmp_path: Path) -> None:
    """Each single-mistake file is the fixed one plus its mistake: the fixed ones pass."""
    fixed = {
        "enum-overlap.yaml": ("overlap: forbid", "overlap: skip"),
        "bool-yes.yaml": ("enabled: yes", "enabled: true"),
        "label-number.yaml": ("tier: 1", 'tier: "1"'),
        "env-number.yaml": ("PORT: 8080", 'PORT: "8080"'),
        "task-after-unknown.yaml": ("[extrct]", "[extract]"),
        "duration-every.yaml": ("every: 1.5h", "every: 90m"),
        "cron-reboot.yaml": ("@reboot", "@daily"),
        "paused-manual.yaml": ("status: paused", "status: start"),
        "hold-unknown-job.yaml": ("ledger-exprt", "ledger-export"),
        "until-no-offset.yaml": ("08:00:00\n", "08:00:00+01:00\n"),
    }
    for case, (wrong, right) in fixed.items():
        text = (CORPUS / case).read_text()
        assert wrong in text, case
        (tmp_path / case).write_text(text.replace(wrong, right))
    for path in sorted(tmp_path.iterdir()):
        assert _texts(path) == [], path.name


# --- generated cases: too big to commit, or a family of sizes ---

JOB = """\
apiVersion: runner/v1
kind: Job
name: export
tasks:
  - name: extract
    run: ./extract.sh
"""


def test_file_over_1_mib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = JOB + "description: x\n"
    Path("big.yaml").write_text(text + "#" * (MAX_BYTES + 1 - len(text)))
    assert _texts("big.yaml") == [
        "big.yaml:1:1: error: file is 1,048,577 bytes; the limit is 1 MiB (1,048,576 bytes): "
        "split it into several files"
    ]


def test_file_of_exactly_1_mib_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("big.yaml").write_text(JOB + "#" * (MAX_BYTES - len(JOB)))
    assert Path("big.yaml").stat().st_size == MAX_BYTES
    assert _texts("big.yaml") == []


@pytest.mark.parametrize("depth", [101, 1_000, 100_000])
def test_deeply_nested_flow_sequence(
    depth: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the document, `tasks` and the task are three levels; the 101st starts at 6:108
    monkeypatch.chdir(tmp_path)
    nested = "[" * depth + "x" + "]" * depth
    Path("deep.yaml").write_text(JOB.replace("run: ./extract.sh", f"argv: {nested}"))
    assert _texts("deep.yaml") == ["deep.yaml:6:108: error: nesting deeper than 100 levels"]


def test_nesting_of_100_levels_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    nested = "[" * 99 + "x" + "]" * 99  # 100 levels with the document's mapping
    Path("deep.yaml").write_text(JOB + f"description: {nested}\n")
    assert _texts("deep.yaml") == [
        "deep.yaml:7:14: error: description: must be a string; got a list"
    ]


@pytest.mark.parametrize("levels", [101, 102])
def test_nesting_limit_is_the_same_in_block_style(
    levels: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same limit as in flow style (`[[[...]]]` 101 deep is refused at 1:101), and
    # the error points where the limit was passed (101:101), however deep the file goes.
    monkeypatch.chdir(tmp_path)
    lines = [" " * i + "a:" for i in range(levels - 1)] + [" " * (levels - 1) + "a: x"]
    Path("deep.yaml").write_text("\n".join(lines) + "\n")
    assert _texts("deep.yaml") == ["deep.yaml:101:101: error: nesting deeper than 100 levels"]


def test_huge_integer_is_a_diagnostic_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # More than Python's 4,300-digit int() limit: one error at the number (4:16), not a
    # ValueError out of the reader.
    monkeypatch.chdir(tmp_path)
    Path("huge.yaml").write_text(JOB.replace("tasks:", "holdOnFailure: " + "9" * 5000 + "\ntasks:"))
    found = load_config(["huge.yaml"]).diagnostics
    assert [(d.file, d.line, d.column, d.is_error) for d in found] == [("huge.yaml", 4, 16, True)]
    assert len(found[0].message) < 200


# --- the same diagnostics through the command line ---
#
# The exit codes follow the table; the output is compared with what `load_config` says,
# so that a wrong diagnostic (the table's business above) fails once, not once per format.


def _exit_code(case: str) -> int:
    return 0 if case in WARNINGS_ONLY else 1


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_validate_prints_them_and_exits_1(
    case: str, in_corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["validate", case]) == _exit_code(case)
    out = capsys.readouterr().out.splitlines()
    assert out[:-1] == _texts(case)
    assert out[-1].startswith(f"{case}: ")


@pytest.mark.parametrize("case", WARNINGS_ONLY)
def test_warnings_fail_only_with_strict(
    case: str, in_corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["validate", case]) == 0
    assert capsys.readouterr().out.endswith("; valid\n")
    assert run(["validate", "--strict", case]) == 1
    assert capsys.readouterr().out.endswith("; invalid (--strict)\n")
    assert run(["validate", "--strict", "--format", "json", case]) == 1
    assert json.loads(capsys.readouterr().out)["valid"] is False
    assert run(["validate", "--strict", "--format", "github", case]) == 1
    assert capsys.readouterr().out.startswith("::warning file=")


def _dotted(pointer: str) -> str:
    """`/tasks/1/after/0` -> `tasks[1].after[0]` (no key in the corpus is all digits)."""
    out = ""
    for raw in pointer.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_json_format_carries_the_same_diagnostics(
    case: str, in_corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = _texts(case)
    assert run(["validate", "--format", "json", case]) == _exit_code(case)
    data = json.loads(capsys.readouterr().out)
    errors = [line for line in texts if ": error: " in line]
    assert data["valid"] is (not errors)
    assert data["error_count"] == len(errors)
    rebuilt = []
    for d in data["diagnostics"]:
        assert {"file", "line", "column", "path", "code", "message"} <= set(d)
        assert d["path"] == "" or d["path"].startswith("/")
        assert d["code"]
        field = f"{_dotted(d['path'])}: " if d["path"] else ""
        severity = d.get("severity", "error")
        rebuilt.append(f"{d['file']}:{d['line']}:{d['column']}: {severity}: {field}{d['message']}")
    assert rebuilt == texts


def test_json_format_of_one_case(in_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", "--format", "json", "task-after-unknown.yaml"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] is False
    assert data["error_count"] == 1
    assert data["diagnostics"] == [
        {
            "file": "task-after-unknown.yaml",
            "line": 9,
            "column": 13,
            "path": "/tasks/1/after/0",
            "severity": "error",
            "code": "unknown-task",
            "message": 'unknown task "extrct" (did you mean "extract"?)',
        }
    ]


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_github_format_annotates_each_line(
    case: str, in_corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = _texts(case)
    assert run(["validate", "--format", "github", case]) == _exit_code(case)
    annotations = [line for line in capsys.readouterr().out.splitlines() if line.startswith("::")]
    assert len(annotations) == len(texts)
    for line, expected in zip(annotations, texts, strict=True):
        want = ANNOTATED.fullmatch(expected)
        assert want is not None
        head = f"::{want['sev']} file={want['file']},line={want['line']},col={want['col']}"
        # more properties (a title) may follow; the message, escaped, is all after `::`
        message = want["rest"].replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        assert re.fullmatch(re.escape(head) + r"(,[^:]*)?::" + re.escape(message), line), line
