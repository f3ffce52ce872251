"""A strict YAML reader: YAML 1.2 scalars, no duplicate keys, core tags only, bounded.

libyaml (PyYAML's C parser) composes the node tree; we walk the nodes ourselves and
resolve plain scalars by YAML 1.2's core schema, so `no`, `on` and `yes` stay strings,
`0755` stays 755 and timestamps stay strings. The node tree is kept beside the data so
that any later error can be pointed at a file, line and column (`locate`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runner.config.scalars import BAD, CORE, SCALAR_TAGS, by_tag, plain
from runner.spec.diagnostics import Diagnostic, JsonPath

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 100
ALIAS_BUDGET = 10_000  # nodes that aliases may add by repeating what they point at

_IMPLICIT = "?"


class _Loader(yaml.CSafeLoader):
    """libyaml's parser and composer, leaving tag resolution to us."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode and not implicit[0]:
            return CORE + "str"  # quoted or block scalar
        return _IMPLICIT


@dataclass(slots=True)
class Document:
    """One `---` document: its plain data and the node tree it came from."""

    index: int
    data: Any
    root: Node

    @property
    def line(self) -> int:
        return int(self.root.start_mark.line) + 1


@dataclass(slots=True)
class ReadResult:
    documents: list[Document]
    diagnostics: list[Diagnostic]


def read_yaml(raw: bytes, file: str) -> ReadResult:
    """Every document of a file, or diagnostics saying why some could not be read."""
    if len(raw) > MAX_BYTES:
        return ReadResult(
            [],
            [
                _diag(
                    file,
                    1,
                    1,
                    "too-large",
                    f"file is {len(raw):,} bytes; the limit is 1 MiB "
                    "(1,048,576 bytes): split it into several files",
                )
            ],
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col = _position(raw[: exc.start].decode("utf-8", "replace"), exc.start)
        return ReadResult(
            [], [_diag(file, line, col, "encoding", "file is not UTF-8 text: save it as UTF-8")]
        )
    too_deep = _too_deep(text, file)
    if too_deep:
        return ReadResult([], [too_deep])
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    try:
        no_anchors = "&" not in text  # no anchors, so no aliases: the fast walk may do
        for index, root in enumerate(yaml.compose_all(text, Loader=_Loader)):
            data = _fast_value(root, 1) if no_anchors else _SLOW
            if data is _SLOW:
                walker = _Walker(file, text)
                data = walker.document(root)
                diagnostics += walker.diagnostics
                if walker.fatal:
                    continue
            documents.append(Document(index, data, root))
    except yaml.MarkedYAMLError as exc:
        diagnostics.append(_syntax_error(exc, file, text))
    except yaml.reader.ReaderError as exc:
        line, col = _position(text, exc.position)
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        diagnostics.append(
            _diag(
                file,
                line,
                col,
                "yaml-syntax",
                f"control character U+{ord(char[:1] or ' '):04X} is not "
                "allowed in YAML; remove it or escape it in a quoted string",
            )
        )
    except yaml.YAMLError as exc:
        diagnostics.append(_diag(file, 1, 1, "yaml-syntax", f"YAML: {exc}"))
    return ReadResult(documents, diagnostics)


def locate(root: Node, path: JsonPath, *, at_key: bool = False) -> tuple[int, int]:
    """The 1-based line and column of the value at `path` (or of its key), or of the
    deepest node on the way there when the path goes further than the file."""
    node = root
    for depth, part in enumerate(path):
        if isinstance(node, MappingNode) and isinstance(part, str):
            pair = _find_pair(node, part)
            if pair is None:
                break
            if at_key and depth == len(path) - 1:
                node = pair[0]
                break
            node = pair[1]
        elif (
            isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value)
        ):
            node = node.value[part]
        else:
            break
    return int(node.start_mark.line) + 1, int(node.start_mark.column) + 1


def _find_pair(node: MappingNode, key: str) -> tuple[Node, Node] | None:
    merged: list[Node] = []
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key and not _is_merge(k):
            return k, v
        if _is_merge(k):
            merged += v.value if isinstance(v, SequenceNode) else [v]
    for source in merged:
        if isinstance(source, MappingNode):
            found = _find_pair(source, key)
            if found:
                return found
    return None


def _is_merge(key: Node) -> bool:
    return isinstance(key, ScalarNode) and key.value == "<<" and key.tag == _IMPLICIT


class _Refused(Exception):
    def __init__(self, node: Node, code: str, message: str, *, alias: bool = False) -> None:
        self.node, self.code, self.message, self.alias = node, code, message, alias


class _Walker:
    """Turns one document's nodes into plain data, noting every problem on the way."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.text = text
        self.diagnostics: list[Diagnostic] = []
        self.fatal = False
        self._done: dict[int, tuple[Any, int]] = {}  # node id -> (value, node count)
        self._active: set[int] = set()
        self._expanded = 0

    def document(self, root: Node) -> Any:
        try:
            return self._value(root, 0)[0]
        except _Refused as exc:
            self.fatal = True
            mark = _overflowing_alias(self.text, root) if exc.alias else None
            if mark is None:
                self._problem(exc.node, exc.code, exc.message)
            else:
                line, col = mark.line + 1, mark.column + 1
                self.diagnostics.append(_diag(self.file, line, col, exc.code, exc.message))
            return None

    def _problem(self, node: Node, code: str, message: str) -> None:
        mark = node.start_mark
        self.diagnostics.append(_diag(self.file, mark.line + 1, mark.column + 1, code, message))

    def _value(self, node: Node, depth: int) -> tuple[Any, int]:
        if isinstance(node, ScalarNode):
            return self._scalar(node), 1
        key = id(node)
        if key in self._done:
            value, size = self._done[key]
            self._expanded += size
            if self._expanded > ALIAS_BUDGET:
                raise _Refused(
                    node,
                    "alias-budget",
                    f"aliases expand past {ALIAS_BUDGET:,} nodes; "
                    "write the repeated part out or use fewer aliases",
                    alias=True,
                )
            return value, size
        if key in self._active:
            raise _Refused(node, "alias-recursive", "an alias refers to a node that contains it")
        if depth + 1 > MAX_DEPTH:  # the root is level 1, as on the event stream
            raise _Refused(node, "too-deep", f"nesting deeper than {MAX_DEPTH} levels")
        self._check_collection_tag(node)
        self._active.add(key)
        value, size = (
            self._mapping(node, depth)
            if isinstance(node, MappingNode)
            else self._sequence(node, depth)
        )
        self._active.discard(key)
        self._done[key] = (value, size)
        return value, size

    def _sequence(self, node: Node, depth: int) -> tuple[list[Any], int]:
        items, size = [], 1
        for child in node.value:
            value, n = self._value(child, depth + 1)
            items.append(value)
            size += n
        return items, size

    def _mapping(self, node: Node, depth: int) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        lines: dict[str, int] = {}
        merged: list[dict[str, Any]] = []
        size = 1
        for knode, vnode in node.value:
            if _is_merge(knode):
                sources, n = self._merge_sources(vnode, depth)
                merged += sources
                size += n
                continue
            key = self._key(knode)
            value, n = self._value(vnode, depth + 1)
            size += n
            if key in lines:
                self._problem(
                    knode, "duplicate-key", f'duplicate key "{key}" (first at line {lines[key]})'
                )
                continue
            lines[key] = knode.start_mark.line + 1
            out[key] = value
        for source in merged:
            for k, v in source.items():
                out.setdefault(k, v)
        return out, size

    def _merge_sources(self, node: Node, depth: int) -> tuple[list[dict[str, Any]], int]:
        value, size = self._value(node, depth + 1)
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(s, dict) for s in sources):
            raise _Refused(
                node,
                "merge",
                "<< merges a mapping or a list of mappings, usually an alias such as <<: *defaults",
            )
        return sources, size

    def _key(self, node: Node) -> str:
        if not isinstance(node, ScalarNode):
            raise _Refused(
                node, "complex-key", "a key must be a plain string, not a list or a mapping"
            )
        if node.tag not in (_IMPLICIT, CORE + "str"):
            self._bad_tag(node)
        return str(node.value)

    def _scalar(self, node: ScalarNode) -> Any:
        tag, text = node.tag, node.value
        if tag == _IMPLICIT:
            return plain(text) if node.style in (None, "") else text
        if tag == CORE + "str":
            return text
        converted = by_tag(tag, text)
        if converted is BAD:
            if tag.startswith(CORE) and tag[len(CORE) :] in SCALAR_TAGS:
                raise _Refused(node, "tag-value", f'"{text}" is not a valid !!{tag[len(CORE) :]}')
            self._bad_tag(node)
            return text
        return converted

    def _check_collection_tag(self, node: Node) -> None:
        allowed = CORE + ("map" if isinstance(node, MappingNode) else "seq")
        if node.tag not in (_IMPLICIT, allowed):
            self._bad_tag(node)

    def _bad_tag(self, node: Node) -> None:
        shown = "!!" + node.tag[len(CORE) :] if node.tag.startswith(CORE) else node.tag
        self._problem(
            node,
            "tag",
            f"tag {shown} is not allowed; only the core tags "
            "(!!str, !!int, !!float, !!bool, !!null, !!map, !!seq)",
        )


_SLOW: Any = object()
_STR = CORE + "str"


def _fast_value(node: Node, depth: int) -> Any:
    """The common case, walked quickly: core scalars, string keys, no merges, no
    duplicates. Anything else returns _SLOW, and the full walker reports it."""
    if depth > MAX_DEPTH:
        return _SLOW
    if node.__class__ is ScalarNode:
        tag = node.tag
        if tag == _IMPLICIT:
            text = node.value
            return plain(text) if not text or text[0] in _SPECIAL_FIRST else text
        return node.value if tag == _STR else _SLOW
    if node.tag != _IMPLICIT:
        return _SLOW
    if node.__class__ is SequenceNode:
        items = []
        for child in node.value:
            value = _fast_value(child, depth + 1)
            if value is _SLOW:
                return _SLOW
            items.append(value)
        return items
    out: dict[str, Any] = {}
    for knode, vnode in node.value:
        if knode.__class__ is not ScalarNode or knode.tag not in _KEY_TAGS:
            return _SLOW
        key = knode.value
        if key in out or key == "<<":
            return _SLOW
        value = _fast_value(vnode, depth + 1)
        if value is _SLOW:
            return _SLOW
        out[key] = value
    return out


_KEY_TAGS = frozenset((_IMPLICIT, _STR))
_SPECIAL_FIRST = frozenset("~nNtTfF0123456789+-.")


def _overflowing_alias(text: str, root: Node) -> Any:
    """The mark of the alias at which the alias budget runs out, counted on the event
    stream as the walker counts it (composed nodes do not keep where their aliases were)."""
    sizes: dict[str, int] = {}
    stack: list[list[Any]] = []  # [anchor, size] of each open collection
    expanded = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if event.start_mark is None or event.start_mark.index < root.start_mark.index:
                continue  # an earlier document
            size = 1
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append([event.anchor, 1])
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                anchor, size = stack.pop()
                if anchor:
                    sizes[anchor] = size
                if not stack:
                    return None  # the document ended within the budget
            elif isinstance(event, yaml.AliasEvent):
                size = sizes.get(event.anchor or "", 1)
                if size > 1:
                    expanded += size
                    if expanded > ALIAS_BUDGET:
                        return event.start_mark
            elif not isinstance(event, yaml.ScalarEvent):
                continue
            if stack:
                stack[-1][1] += size
    except yaml.YAMLError:
        return None
    return None


def _too_deep(text: str, file: str) -> Diagnostic | None:
    """libyaml's composer recurses once per level and overflows the C stack on very deep
    nesting, so anything that might nest deeply is measured first, on the event stream."""
    if text.count("[") + text.count("{") + text.count("- ") < MAX_DEPTH and len(text) < 50_000:
        return None
    try:
        return _deeper_than_limit(yaml.parse(text, Loader=_Loader), file)
    except yaml.YAMLError:
        pass
    # libyaml's scanner reads ahead, and from PyYAML 6.0.4 on it refuses nesting past its
    # own limit (about 1,000 levels) before the 101st level's event reaches us. PyYAML's
    # pure-Python parser has no such limit and reads ahead at most 1,024 characters, so
    # it is asked where our own limit was passed, whatever the installed version does.
    try:
        return _deeper_than_limit(yaml.parse(text, Loader=yaml.SafeLoader), file)
    except yaml.YAMLError:
        return None  # the composer reports syntax errors with their positions


def _deeper_than_limit(events: Iterator[yaml.Event], file: str) -> Diagnostic | None:
    depth = 0
    for event in events:
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
                return _diag(file, line, col, "too-deep", f"nesting deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


def _syntax_error(exc: yaml.MarkedYAMLError, file: str, text: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = exc.problem or "does not parse"
    if exc.context and exc.context not in problem:
        problem = f"{problem} ({exc.context})"
    if "tab" in problem or (mark is not None and text[mark.index : mark.index + 1] == "\t"):
        problem += "; a tab: YAML is indented with spaces, not tabs"
    return _diag(file, line, col, "yaml-syntax", f"YAML syntax: {problem}")


def _position(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _diag(file: str, line: int, column: int, code: str, message: str) -> Diagnostic:
    return Diagnostic(file=file, line=line, column=column, path=(), code=code, message=message)
