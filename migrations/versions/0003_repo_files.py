"""repo_files: each repository's files at its ingested HEAD, for knowledge-risk analyses

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 05:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "repo_files",
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("excluded", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repos.id"], name=op.f("fk_repo_files_repo_id_repos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("repo_id", "path", name=op.f("pk_repo_files")),
    )


def downgrade() -> None:
    op.drop_table("repo_files")
