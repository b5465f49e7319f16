""".proto files: the gRPC services they declare, and where a broken one breaks."""

from __future__ import annotations

import re
from collections.abc import Callable

from connectors.git.servicemap.deploy import Unread

_PROTO_SERVICE = re.compile(r"^\s*service\s+(\w+)\s*\{")


def proto_services(
    paths: list[str], text_of: Callable[[str], str | None], unread: list[Unread]
) -> dict[str, tuple[str, int]]:
    """Services declared by .proto files; an unbalanced file is reported and skipped."""
    out: dict[str, tuple[str, int]] = {}
    for path in paths:
        if not path.endswith(".proto"):
            continue
        text = text_of(path)
        if text is None:
            continue
        problem = proto_problem(text)
        if problem:
            unread.append(Unread(path, problem[0], f"invalid proto: {problem[1]}"))
            continue
        for no, line in enumerate(text.split("\n"), start=1):
            m = _PROTO_SERVICE.match(line)
            if m:
                out.setdefault(m.group(1), (path, no))
    return out


def proto_problem(text: str) -> tuple[int, str] | None:
    """(line, why) of the first unbalanced bracket of a .proto file, else None."""
    stack: list[tuple[str, int]] = []
    pairs = {")": "(", "}": "{", "]": "["}
    for no, line in enumerate(text.split("\n"), start=1):
        opened = [ln for ch, ln in stack if ch == "("]
        if opened:  # a parameter list never spans lines in a .proto
            return opened[0], "unclosed '('"
        code = re.sub(r"//.*|\"[^\"]*\"", "", line)
        for ch in code:
            if ch in "({[":
                stack.append((ch, no))
            elif ch in pairs:
                if not stack or stack[-1][0] != pairs[ch]:
                    return no, f"unexpected '{ch}'"
                stack.pop()
    if stack:
        return stack[-1][1], f"unclosed '{stack[-1][0]}'"
    return None
