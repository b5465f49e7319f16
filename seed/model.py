"""Plain data types shared by the generator: tree operations and commit plans."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Content = str | bytes
Tree = dict[str, Content]


@dataclass(frozen=True)
class Op:
    """One change to a repository tree, applied in order within a commit."""

    kind: Literal["write", "delete", "rename", "replace", "replace_all", "append"]
    path: str
    content: Content = ""
    target: str = ""
    old: str = ""
    new: str = ""


def write(path: str, content: Content) -> Op:
    """Create or overwrite a file."""
    return Op("write", path, content=content)


def delete(path: str) -> Op:
    """Remove a file."""
    return Op("delete", path)


def rename(path: str, target: str) -> Op:
    """Move a file, keeping its content."""
    return Op("rename", path, target=target)


def replace(path: str, old: str, new: str) -> Op:
    """Replace the single occurrence of `old` in a text file."""
    return Op("replace", path, old=old, new=new)


def replace_all(path: str, old: str, new: str) -> Op:
    """Replace every occurrence (at least one) of `old` in a text file."""
    return Op("replace_all", path, old=old, new=new)


def append(path: str, text: str) -> Op:
    """Add text at the end of a text file (created if missing)."""
    return Op("append", path, content=text)


def apply_ops(tree: Tree, ops: list[Op], where: str) -> None:
    """Apply ops to tree in place; raise ValueError naming `where` if one cannot apply."""
    for op in ops:
        if op.kind == "write":
            tree[op.path] = op.content
        elif op.kind == "delete":
            _require(tree, op.path, where)
            del tree[op.path]
        elif op.kind == "rename":
            _require(tree, op.path, where)
            tree[op.target] = tree.pop(op.path)
        elif op.kind == "append":
            current = tree.get(op.path, "")
            assert isinstance(current, str) and isinstance(op.content, str)
            tree[op.path] = current + op.content
        else:
            _require(tree, op.path, where)
            current = tree[op.path]
            assert isinstance(current, str)
            found = current.count(op.old)
            if op.kind == "replace_all" and found:
                tree[op.path] = current.replace(op.old, op.new)
                continue
            if found != 1:
                raise ValueError(
                    f"{where}: expected exactly one {op.old[:60]!r} in {op.path}, found {found}"
                )
            tree[op.path] = current.replace(op.old, op.new)


def inverse_ops(ops: list[Op], before: Tree) -> list[Op]:
    """Ops that undo `ops` (as `git revert` would), given the tree before them."""
    undo: list[Op] = []
    for op in reversed(ops):
        if op.kind in ("replace", "replace_all"):
            undo.append(Op(op.kind, op.path, old=op.new, new=op.old))
        elif op.kind == "rename":
            undo.append(rename(op.target, op.path))
        elif op.path in before:
            undo.append(write(op.path, before[op.path]))
        else:
            undo.append(delete(op.path))
    return undo


def _require(tree: Tree, path: str, where: str) -> None:
    if path not in tree:
        raise ValueError(f"{where}: {path} does not exist in the tree")


@dataclass
class CommitPlan:
    """A commit to write: who, when, what message and which tree changes."""

    repo: str
    when: int
    author: str
    message: str = ""
    ops: list[Op] = field(default_factory=list)
    email: str | None = None
    kind: str = "story"
    key: str | None = None
    branch: str | None = None
    merge_branch: str | None = None
    revert_of: str | None = None
    committer: str | None = None
    seq: int = 0

    @property
    def subject(self) -> str:
        """First line of the message."""
        return self.message.split("\n", 1)[0]
