"""Bounded, strict reading of the text files a person hands PlaceFund.

Every YAML file (scenarios, sensitivity specs, the scenario kept in a plan directory,
uploads in the workbench) is read here, with ``yaml.safe_load``'s semantics (plain
values only, no Python objects) and these limits, so that a malformed or hostile file
gets one clear error instead of a traceback, a silent wrong answer or a hang:

- at most ``MAX_YAML_BYTES`` of UTF-8 text; bytes that are not UTF-8, or control
  characters that mean a binary file, are refused naming the byte offset;
- aliases (``*name``) may refer to nodes that themselves use aliases at most
  ``MAX_ALIAS_DEPTH`` levels deep, and the whole document may expand to at most
  ``MAX_NODES`` values, counted on the composed node graph *before* anything is
  constructed: the "billion laughs" bomb (345 bytes, 10^9 strings) is refused in
  milliseconds;
- a key repeated in one mapping is refused, naming the lines of both;
- a tag without a safe constructor (``!!python/object``, ``!custom``) is refused by name.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, SequenceNode
from yaml.reader import ReaderError

from optimizer.engine.errors import PlaceFundError, ScenarioError, brief

MAX_YAML_BYTES = 1_000_000  # a resolved county scenario is a few kB
MAX_NODES = 200_000  # values after expanding aliases
MAX_ALIAS_DEPTH = 3  # an alias to a node that uses aliases to nodes that use aliases
MAX_DEPTH = 64  # nested lists/mappings (a scenario needs four)

ErrorFactory = Callable[[str], PlaceFundError]

# C0 controls other than tab, line feed and carriage return, and DEL: never in text
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TAG_PREFIX = "tag:yaml.org,2002:"
_MERGE = _TAG_PREFIX + "merge"


def decode_text(raw: bytes, source: str, error: ErrorFactory = ScenarioError,
                what: str = "file") -> str:
    """``raw`` as UTF-8 text (a leading BOM dropped); binary data is refused.

    The error names ``source`` and the byte offset of the first offending byte;
    ``what`` says what the file is ("scenario file").
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise error(f"{source}: not UTF-8 text: byte 0x{raw[err.start]:02x} at byte offset "
                    f"{err.start} cannot be decoded; save the {what} as UTF-8") from None
    control = _CONTROL.search(text)
    if control:
        offset = len(text[:control.start()].encode()) + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        raise error(f"{source}: looks like a binary file: control character "
                    f"0x{ord(control.group()):02x} at byte offset {offset}; a {what} is text")
    return text


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def _open_regular(path: Path, error: ErrorFactory, what: str) -> tuple[int, os.stat_result]:
    """An open handle on ``path`` and its status, once it is a regular file: it is opened
    without blocking and its type checked on the handle, so a named pipe, a device
    (``/dev/zero``), a socket or a folder is refused by name instead of hanging."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise error(f"{path}: cannot read the {what} ({err.strerror})") from None
    try:
        info = os.fstat(fd)
    except OSError as err:
        os.close(fd)
        raise error(f"{path}: cannot read the {what} ({err.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
        raise error(f"{path}: is {kind}, not a regular file; a {what} must be an ordinary file")
    return fd, info


def regular_file(path: str | Path, error: ErrorFactory = ScenarioError, what: str = "file",
                 limit: int | None = None) -> Path:
    """``path`` once it is a regular file of at most ``limit`` bytes, for a reader that
    takes a path (see ``_open_regular``)."""
    path = Path(path)
    fd, info = _open_regular(path, error, what)
    os.close(fd)
    if limit is not None and info.st_size > limit:
        raise error(f"{path}: is {info.st_size:,} bytes; a {what} may be at most {limit:,} bytes")
    return path


def read_bytes(path: str | Path, error: ErrorFactory = ScenarioError, what: str = "file",
               limit: int = MAX_YAML_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, or ``error`` saying why
    (a pipe, device or folder refused by name, ``_open_regular``); at most ``limit + 1``
    bytes are ever read, so a file that grows after the check is refused too."""
    path = Path(path)
    fd, _ = _open_regular(path, error, what)
    try:
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as err:
        raise error(f"{path}: cannot read the {what} ({err.strerror})") from None
    finally:
        os.close(fd)
    if size > limit:
        raise error(f"{path}: is more than {limit:,} bytes; a {what} may be at most "
                    f"{limit:,} bytes")
    return b"".join(chunks)


def read_text(path: str | Path, error: ErrorFactory = ScenarioError, what: str = "file",
              limit: int | None = None) -> str:
    """Read a UTF-8 text file of at most ``limit`` bytes (default ``MAX_YAML_BYTES``),
    or raise ``error`` saying why (see ``read_bytes``)."""
    raw = read_bytes(path, error, what, MAX_YAML_BYTES if limit is None else limit)
    return decode_text(raw, str(path), error, what)


def _line(event: Any) -> int | str:
    """The 1-based line an event starts on ("?" if the parser gave none)."""
    mark = event.start_mark
    return mark.line + 1 if mark is not None else "?"


class _Refused(yaml.YAMLError):
    """A document this loader will not construct, with the reason fit to print."""


class BoundedSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that bounds aliasing and refuses duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._alias_depth: dict[str, int] = {}  # anchor -> deepest alias chain inside it
        self._open: list[tuple[str, list[int]]] = []  # anchors being composed
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"line {_line(event)}: values nest more than "
                               f"{MAX_DEPTH} levels deep")
            return self._compose_bounded(event, parent, index)
        finally:
            self._depth -= 1

    def _compose_bounded(self, event: Any, parent: Node | None, index: Any) -> Node | None:
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)  # raises for an undefined alias
            depth = self._alias_depth.get(event.anchor or "", 0) + 1
            if depth > MAX_ALIAS_DEPTH:
                raise _Refused(f"line {_line(event)}: aliases nest more than "
                               f"{MAX_ALIAS_DEPTH} levels deep (*{event.anchor}); write the "
                               "values out instead")
            for _, inner in self._open:
                inner[0] = max(inner[0], depth)
            return node
        anchor = event.anchor if isinstance(event, ScalarEvent | CollectionStartEvent) else None
        if anchor is None:
            return super().compose_node(parent, index)
        self._open.append((anchor, [0]))
        try:
            node = super().compose_node(parent, index)
        finally:
            _, inner = self._open.pop()
        self._alias_depth[anchor] = inner[0]
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping; a key given twice is an error naming both lines."""
        if isinstance(node, MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue  # `<<: *defaults` may be overridden by explicit keys
                key = self.construct_object(key_node, deep=True)
                try:
                    line = first_line.get(key)
                except TypeError:
                    continue  # unhashable: the base constructor says so
                here = key_node.start_mark.line + 1
                if line is not None:
                    raise _Refused(f"key {brief(key)} appears twice, on line {line} and "
                                   f"line {here}; keep one")
                first_line[key] = here
        return super().construct_mapping(node, deep=deep)


def expanded_size(root: Node) -> int:
    """How many values ``root`` stands for once every alias is expanded.

    Counted on the node graph (an alias is a second reference to the same node) with
    one memoised pass, so a document that would expand to 10^9 values is measured in
    microseconds. A node that contains itself is refused.
    """
    size: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            children = _children(node)
            size[key] = 1 + sum(size[id(c)] for c in children)
            if size[key] > MAX_NODES:
                return size[key]
            continue
        if key in size:
            continue
        if key in on_path:
            raise _Refused(f"line {node.start_mark.line + 1}: a value contains itself "
                           "through an alias")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in size)
    return size[id(root)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_TAG_PREFIX):] if tag.startswith(_TAG_PREFIX) else tag


def load_yaml(text: str, source: str, error: ErrorFactory = ScenarioError) -> Any:
    """Parse one YAML document under the limits above; errors name ``source``."""
    if len(text) > MAX_YAML_BYTES:
        raise error(f"{source}: is {len(text):,} characters; YAML files are limited to "
                    f"{MAX_YAML_BYTES:,}")
    try:
        loader = BoundedSafeLoader(text)
    except ReaderError as err:
        offset = len(text[:err.position].encode())
        raise error(f"{source}: character U+{err.character:04X} at byte offset {offset} is not "
                    "allowed in YAML text") from None
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        size = expanded_size(root)
        if size > MAX_NODES:
            raise _Refused(f"expands to more than {MAX_NODES:,} values through its aliases; "
                           "write the values out instead")
        return loader.construct_document(root)
    except _Refused as err:
        raise error(f"{source}: refused: {err}") from None
    except ConstructorError as err:
        mark = err.problem_mark
        where = f" (line {mark.line + 1})" if mark else ""
        tag = re.search(r"for the tag '([^']*)'", str(err.problem))
        if tag:
            raise error(f"{source}: the tag '{_tag_name(tag.group(1))}'{where} is not allowed; "
                        "files hold plain values (numbers, text, lists, mappings)") from None
        raise error(f"{source}: cannot read a value{where}: {brief(err.problem)}") from None
    except (ComposerError, yaml.MarkedYAMLError) as err:
        mark = err.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = f" ({err.problem})" if err.problem else ""
        raise error(f"{source}: not valid YAML{where}{problem[:200]}") from None
    except yaml.YAMLError as err:  # any other parser complaint
        raise error(f"{source}: not valid YAML ({str(err)[:200]})") from None
    except RecursionError:
        raise error(f"{source}: refused: values nest too deeply") from None
    except (ValueError, OverflowError) as err:  # e.g. a 5,000-digit integer, 2001-13-45
        raise error(f"{source}: cannot read a value ({str(err)[:120]})") from None
    finally:
        loader.dispose()


def load_yaml_bytes(raw: bytes, source: str, error: ErrorFactory = ScenarioError,
                    what: str = "YAML file") -> Any:
    """Decode (UTF-8, no binary) and parse YAML given as bytes, e.g. an upload."""
    if len(raw) > MAX_YAML_BYTES:
        raise error(f"{source}: is {len(raw):,} bytes; a {what} may be at most "
                    f"{MAX_YAML_BYTES:,} bytes")
    return load_yaml(decode_text(raw, source, error, what), source, error)


def load_yaml_file(path: str | Path, error: ErrorFactory = ScenarioError,
                   what: str = "YAML file") -> Any:
    """Read and parse a YAML file under the limits above."""
    return load_yaml(read_text(path, error, what, MAX_YAML_BYTES), str(path), error)
