"""YAML loading that remembers the line of every mapping key and list item (for evidence)."""

from __future__ import annotations

from typing import Any

import yaml


class LineDict(dict[Any, Any]):
    """A YAML mapping; `lines[key]` is the 1-based line where the key is written."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}


class LineList(list[Any]):
    """A YAML sequence; `lines[i]` is the 1-based line of item i."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []


class _LineLoader(yaml.SafeLoader):
    pass


def _mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)  # YAML merge keys (<<: *defaults)
    out = LineDict()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            key = str(key)
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    out = LineList()
    for item in node.value:
        out.append(loader.construct_object(item, deep=True))
        out.lines.append(item.start_mark.line + 1)
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load_yaml(text: str) -> list[Any]:
    """Every document of a YAML (or JSON) text, mappings as LineDict and lists as LineList.

    Raises yaml.YAMLError; callers turn it into a Failure with the error's line.
    """
    return [doc for doc in yaml.load_all(text, Loader=_LineLoader) if doc is not None]


def line_of(mapping: Any, key: Any, default: int | None = None) -> int | None:
    """The line of `key` in a LineDict, else `default`."""
    if isinstance(mapping, LineDict):
        return mapping.lines.get(key, default)
    return default


def yaml_error_line(exc: yaml.YAMLError, text: str) -> int | None:
    """The 1-based line of `text` a YAML error points at, when it says."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    context = str(getattr(exc, "context", "") or "")
    opened = getattr(exc, "context_mark", None)
    if ("flow" in context or "quoted" in context) and opened is not None:
        # An unclosed [, { or quote: point at where it was opened, not where YAML gave up.
        mark = opened
    if mark is None:
        return None
    return max(1, min(mark.line + 1, len(text.splitlines())))
