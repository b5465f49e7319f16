"""The polyglot monorepo fixture (tests/polyglot.py) itself: it builds into a real git repo,
deterministically, with the files, the planted bad input and an expected map that agrees
with them. The service-map tests proper belong with kb's map."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from gitrepo import git
from polyglot import (
    BAD_INPUT,
    EXPECTED_MAP,
    FILES,
    FORBIDDEN_EDGES,
    HISTORY,
    LIBRARIES,
    REPO_NAME,
    build_polyglot_monorepo,
    line_of,
)

from kb.settings import Settings

SERVICE_BUILD_FILES = {
    "gateway": "go.mod",
    "orders": "pyproject.toml",
    "payment": "go.mod",
    "shipping": "build.gradle.kts",
    "notifications": "package.json",
    "checkout": "Checkout.csproj",
    "inventory": "pyproject.toml",
}


@pytest.fixture(scope="module")
def mono(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_polyglot_monorepo(tmp_path_factory.mktemp("poly") / REPO_NAME)


def test_builds_a_clean_git_history_with_every_file(mono: Path) -> None:
    log = git(mono, "log", "--format=%an|%s").splitlines()
    assert len(log) == len(HISTORY) == 4
    assert log[-1] == "Ana Lima|Gateway, orders and payment: the first slice of the shop"
    assert {line.split("|")[0] for line in log} == {"Ana Lima", "Kofi Mensah", "Lena Vogel"}
    assert git(mono, "status", "--porcelain") == ""
    tracked = set(git(mono, "ls-files").splitlines())
    assert tracked == set(FILES)
    for path, text in FILES.items():
        assert (mono / path).read_text(encoding="utf-8") == text


def test_same_input_same_commits(tmp_path: Path, mono: Path) -> None:
    again = build_polyglot_monorepo(tmp_path / REPO_NAME)
    assert git(again, "rev-parse", "HEAD") == git(mono, "rev-parse", "HEAD")


def test_seven_services_in_five_languages_each_with_its_build_file_and_dockerfile(
    mono: Path,
) -> None:
    services = {s["name"]: s for s in EXPECTED_MAP["services"]}
    assert set(services) == set(SERVICE_BUILD_FILES)
    for name, build_file in SERVICE_BUILD_FILES.items():
        assert (mono / services[name]["path"] / build_file).is_file()
        assert (mono / services[name]["path"] / "Dockerfile").is_file()
    assert (mono / "proto/payment.proto").read_text().count("service PaymentService") == 1
    for lib in LIBRARIES:
        assert (mono / lib["path"] / "pyproject.toml").is_file()


def test_compose_builds_each_service_from_its_folder_with_mixed_names(mono: Path) -> None:
    compose = yaml.safe_load((mono / "docker-compose.yml").read_text())["services"]
    contexts = {name: svc["build"]["context"] for name, svc in compose.items() if "build" in svc}
    assert contexts == {
        "gateway": "./services/gateway",
        "orders-service": "./services/orders",
        "payment": "./services/payment",
        "shipping_service": "./services/shipping",
        "notifications": "./services/notifications",
        "checkoutservice": "./services/checkout",
        "inventory-service": "./services/inventory",
        "locust": "./load",  # a load generator built like a service
    }
    infra = {i["name"] for i in EXPECTED_MAP["infrastructure"]}
    assert infra <= set(compose)
    assert compose["gateway"]["environment"]["ORDERS_URL"] == "http://orders-service:8000"
    aliases = {a for s in EXPECTED_MAP["services"] for a in s["aliases"]}
    assert {"orders-service", "shipping_service", "checkoutservice", "inventory-service"} <= (
        aliases
    )


def test_k8s_helm_and_backstage_descriptors(mono: Path) -> None:
    deployment, service = yaml.safe_load_all(
        (mono / "deploy/k8s/checkout-service.yaml").read_text()
    )
    assert deployment["kind"] == "Deployment" and service["kind"] == "Service"
    assert deployment["metadata"]["name"] == "checkout-service"
    # The Helm template is not YAML until rendered; its values file is.
    template = (mono / "deploy/helm/orders/templates/deployment.yaml").read_text()
    assert "{{ .Values.payment.host }}" in template
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(template)
    values = yaml.safe_load((mono / "deploy/helm/orders/values.yaml").read_text())
    assert values["payment"] == {"host": "payment", "port": 50051}
    catalog = list(yaml.safe_load_all((mono / "catalog-info.yaml").read_text()))
    owners = {
        d["metadata"]["name"]: d["spec"]["owner"] for d in catalog if d["kind"] == "Component"
    }
    assert owners["checkout-service"] == "team-payments"
    assert owners["notification-service"] == "team-comms"
    expected_owners = {s["name"]: s["owner"] for s in EXPECTED_MAP["services"]}
    assert set(expected_owners.values()) <= set(owners.values())


def test_planted_bad_input_is_bad(mono: Path) -> None:
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load((mono / "deploy/k8s/broken.yaml").read_text())
    proto = (mono / "proto/legacy/broken.proto").read_text()
    assert proto.count("{") != proto.count("}") and proto.count("(") != proto.count(")")
    huge = mono / "services/notifications/src/generated/ordersApiClient.ts"
    assert huge.stat().st_size > Settings().max_file_bytes  # kb skips it as oversized
    assert huge.read_text().startswith("// Code generated by openapi-generator. DO NOT EDIT.")
    assert "orders-service" in huge.read_text()
    assert set(BAD_INPUT) <= set(FILES)


def test_expected_map_follows_the_contract_and_points_at_real_lines(mono: Path) -> None:
    assert set(EXPECTED_MAP) == {"services", "edges", "infrastructure"}
    names = {s["name"] for s in EXPECTED_MAP["services"]}
    libraries = {lib["name"] for lib in LIBRARIES}
    for s in EXPECTED_MAP["services"]:
        assert set(s) == {"name", "repo", "path", "owner", "aliases"}
        assert s["repo"] == REPO_NAME and (mono / s["path"]).is_dir()
    kinds = set()
    for e in EXPECTED_MAP["edges"]:
        assert set(e) == {"from", "to", "kind", "via", "evidence"}
        assert e["from"] in names
        assert e["to"] in (libraries if e["kind"] == "library" else names)
        kinds.add(e["kind"])
        for ev in e["evidence"]:
            lines = (mono / ev["path"]).read_text().splitlines()
            assert 1 <= ev["line"] <= len(lines)
        # Every evidence line names the edge: a word of its via, or one of its two ends.
        words = {w.strip("(),").lower() for w in e["via"].split()} | {e["from"], e["to"]}
        for ev in e["evidence"]:
            line = (mono / ev["path"]).read_text().splitlines()[ev["line"] - 1].lower()
            assert any(w and w in line for w in words), (e["from"], e["to"], line)
    assert kinds == {"sync_http", "grpc", "async_event", "shared_db", "library"}
    pairs = {(e["from"], e["to"]) for e in EXPECTED_MAP["edges"]}
    assert not pairs & set(FORBIDDEN_EDGES)
    assert json.loads(json.dumps(EXPECTED_MAP)) == EXPECTED_MAP  # plain JSON data


def test_line_of_finds_the_nth_hit_and_refuses_a_missing_needle() -> None:
    path = "docker-compose.yml"
    first, second = line_of(path, "KAFKA_BROKERS"), line_of(path, "KAFKA_BROKERS", 2)
    assert first < second
    assert "KAFKA_BROKERS" in FILES[path].splitlines()[second - 1]
    with pytest.raises(KeyError):
        line_of(path, "no such text")
