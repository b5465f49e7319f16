"""The service map: the grpc dependency kind, libraries, service aliases, infrastructure,
and every place that shows a dependency

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 16:00:00

`service_dependencies.kind` is a plain string column: `grpc` needs no DDL, only this
revision to say when it appeared.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INFRA_KINDS = (
    "broker", "database", "cache", "proxy", "collector", "observability", "loadgen",
    "registry", "config", "feature_flags", "search", "external",
)  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(
            sa.Column(
                "kind",
                sa.Enum("service", "library", name="componentkind", native_enum=False, length=32),
                server_default="service",
                nullable=False,
            )
        )
    op.create_table(
        "service_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_service_aliases_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_aliases")),
        sa.UniqueConstraint(
            "service_id", "alias", name=op.f("uq_service_aliases_service_id_alias")
        ),
    )
    op.create_index(op.f("ix_service_aliases_service_id"), "service_aliases", ["service_id"])
    op.create_table(
        "infrastructure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*INFRA_KINDS, name="infrakind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("path", sa.String(length=1000), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["repo_id"],
            ["repos.id"],
            name=op.f("fk_infrastructure_repo_id_repos"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_infrastructure")),
        sa.UniqueConstraint("repo_id", "name", name=op.f("uq_infrastructure_repo_id_name")),
    )
    op.create_index(op.f("ix_infrastructure_repo_id"), "infrastructure", ["repo_id"])
    op.create_table(
        "dependency_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dependency_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("repo", sa.String(length=200), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dependency_id"],
            ["service_dependencies.id"],
            name=op.f("fk_dependency_evidence_dependency_id_service_dependencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dependency_evidence")),
    )
    op.create_index(
        op.f("ix_dependency_evidence_dependency_id"), "dependency_evidence", ["dependency_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_dependency_evidence_dependency_id"), table_name="dependency_evidence")
    op.drop_table("dependency_evidence")
    op.drop_index(op.f("ix_infrastructure_repo_id"), table_name="infrastructure")
    op.drop_table("infrastructure")
    op.drop_index(op.f("ix_service_aliases_service_id"), table_name="service_aliases")
    op.drop_table("service_aliases")
    with op.batch_alter_table("services") as batch:
        batch.drop_column("kind")
