"""What Alembic's model comparison leaves out: objects created by hand in revisions."""

from __future__ import annotations


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Full-text objects are created per dialect in revision 0002, not from the models."""
    return not (name or "").startswith("chunk_fts")
