"""Job documents as YAML that runner's strict YAML 1.2 reader takes back unchanged:
a string that YAML 1.2 would read as a number, boolean or null is quoted, and text of
several lines is a literal block."""

from __future__ import annotations

import re

import yaml

from runner.importing.result import Imported, ImportedJob

# Plain scalars that YAML 1.2's core schema reads as something other than a string
# (PyYAML quotes those of YAML 1.1, which misses `1e3` and `0o17`).
_NOT_A_STRING = re.compile(
    r"^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE"
    r"|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$"
)


class _Dumper(yaml.SafeDumper):
    """Block style, keys in the order written, strings that stay strings, list items
    indented under their key (as the examples in jobs.d/ are written)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if _NOT_A_STRING.match(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _string)


def _comments(lines: list[str]) -> str:
    return "".join(f"# {line}".rstrip() + "\n" for line in lines)


def header(imported: Imported) -> str:
    """The comment that opens the output: where it came from and how it was read."""
    return _comments([f"imported from {imported.source} by runner import", *imported.notes])


def render_job(job: ImportedJob) -> str:
    """One document: where it came from, as a comment, then the job."""
    body = yaml.dump(
        job.document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=4096,  # long lines stay whole rather than folded
    )
    origin = f"from {job.origin}: {job.source_text}" if job.source_text else f"from {job.origin}"
    return _comments([origin]) + body


def render_stream(imported: Imported) -> str:
    """Every job, as one multi-document stream (`---` between documents)."""
    documents = [render_job(job) for job in imported.jobs]
    return header(imported) + "---\n".join(documents)


def render_file(imported: Imported, job: ImportedJob) -> str:
    """One job's file for `--out`: the same header, then its document."""
    return header(imported) + render_job(job)
