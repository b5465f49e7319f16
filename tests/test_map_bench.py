"""The service-map benchmark (bench/map.py): its ground-truth files are valid, and its scorer,
truth checker and runner give the right figures on hand-made maps and tiny real repos.
No model, no network; `kb map` is played by a fake executable."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from gitrepo import git

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # bench/ is not an installed package
    sys.path.insert(0, str(ROOT))

from bench.map import (  # noqa: E402
    NOT_AVAILABLE,
    PinnedFiles,
    TruthError,
    check_truth,
    checkout_problems,
    load_systems,
    main,
    merge_scores,
    normalise,
    score,
    system_from_dict,
)

COMMIT = "0" * 40


def truth(**over: Any) -> dict[str, Any]:
    """A small system: gateway -> orders (http), orders -> shipping (event), a shared db,
    a library, and infrastructure; `over` replaces top-level keys."""
    raw: dict[str, Any] = {
        "system": "tiny",
        "upstream": "https://example.invalid/tiny",
        "repos": [
            {
                "name": "tiny",
                "url": "https://example.invalid/tiny.git",
                "commit": COMMIT,
                "dir": "tiny",
            }
        ],
        "layout": {"kind": "monorepo"},
        "services": [
            {"name": "gateway", "path": "services/gateway", "aliases": ["api-gw"]},
            {"name": "orders-service", "path": "services/orders"},
            {"name": "shipping", "path": "services/shipping_svc"},
            {"name": "billing", "path": "services/billing"},
            {"name": "mobile", "path": "apps/mobile", "optional": True},
        ],
        "libraries": [{"name": "common", "path": "libs/common"}],
        "infrastructure": [
            {"name": "kafka", "kind": "broker"},
            {"name": "postgres", "kind": "database", "aliases": ["pg"]},
            {"name": "locust", "kind": "loadgen", "path": "load"},
        ],
        "edges": [
            {
                "from": "gateway",
                "to": "orders-service",
                "kind": "sync_http",
                "via": "ORDERS_URL",
                "doc": {"path": "README.md"},
                "code": ["services/gateway/main.go:3"],
            },
            {
                "from": "orders-service",
                "to": "shipping",
                "kind": "async_event",
                "via": "order.placed",
                "doc": {"path": "README.md"},
                "code": ["services/orders/app.py:2"],
            },
            {
                "from": "billing",
                "to": "orders-service",
                "kind": "shared_db",
                "via": "orders",
                "doc": {"path": "README.md"},
                "code": ["services/orders/app.py:1"],
            },
            {
                "from": "orders-service",
                "to": "common",
                "kind": "library",
                "via": "libs/common",
                "doc": {"path": "README.md"},
                "code": ["services/orders/app.py:1"],
            },
            {
                "from": "mobile",
                "to": "gateway",
                "kind": "sync_http",
                "via": "/api",
                "optional": True,
                "doc": {"path": "README.md"},
                "code": ["apps/mobile/x.js:1"],
            },
        ],
    }
    raw.update(over)
    return raw


def perfect_map() -> dict[str, Any]:
    """What a flawless `kb map --format json` would print for `truth()`."""
    ev = [{"repo": "tiny", "path": "services/orders/app.py", "line": 1}]
    return {
        "services": [
            {"name": n, "repo": "tiny", "path": p, "owner": None, "aliases": []}
            for n, p in [
                ("gateway", "services/gateway"),
                ("orders-service", "services/orders"),
                ("shipping", "services/shipping_svc"),
                ("billing", "services/billing"),
            ]
        ],
        "edges": [
            {
                "from": "gateway",
                "to": "orders-service",
                "kind": "sync_http",
                "via": "ORDERS_URL",
                "evidence": ev,
            },
            {
                "from": "orders-service",
                "to": "shipping",
                "kind": "async_event",
                "via": "order.placed",
                "evidence": ev,
            },
            {
                "from": "billing",
                "to": "orders-service",
                "kind": "shared_db",
                "via": "orders",
                "evidence": ev,
            },
            {
                "from": "orders-service",
                "to": "common",
                "kind": "library",
                "via": "libs/common",
                "evidence": ev,
            },
        ],
        "infrastructure": [
            {"name": "kafka", "kind": "broker"},
            {"name": "postgres", "kind": "database"},
        ],
    }


def always(_repo: str, _path: str, _line: int) -> bool:
    return True


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "spelling",
    [
        "checkout",
        "checkoutservice",
        "checkout-service",
        "checkout_service",
        "CheckoutService",
        "Checkout Service",
        "checkout-svc",
        "checkoutServices",
    ],
)
def test_normalise_folds_service_spellings(spelling: str) -> None:
    assert normalise(spelling) == "checkout"


def test_normalise_keeps_names_that_are_only_a_suffix_and_distinct_names() -> None:
    assert normalise("service") == "service"
    assert normalise("Catalog.API") == normalise("catalog-api") == "catalogapi"
    assert normalise("valkey-cart") != normalise("cart")
    assert normalise("Jos\u00e9-Service") == "jose"


# --------------------------------------------------------------------------- schema


def test_committed_ground_truth_is_valid_and_covers_the_brief() -> None:
    systems = load_systems()
    assert len(systems) >= 4
    big_monorepos = [
        s
        for s in systems
        if s.layout["kind"] == "monorepo" and sum(not x.optional for x in s.services) >= 10
    ]
    assert len(big_monorepos) >= 2
    assert any(s.layout["kind"] == "multi-repo" for s in systems)
    kinds = {e.kind for s in systems for e in s.edges if not e.optional}
    assert kinds == {"sync_http", "grpc", "async_event", "shared_db", "library"}
    for s in systems:
        assert s.upstream.startswith("https://github.com/")
        assert all(r.url.startswith("https://github.com/") for r in s.repos)
        for e in s.edges:
            assert e.doc.get("path"), f"{s.name}: {e} has no doc reference"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["edges"].append({**r["edges"][0], "kind": "rest"}), "kind 'rest'"),
        (lambda r: r["edges"].append({**r["edges"][0], "to": "kafka"}), "is not a service"),
        (lambda r: r["edges"].append({**r["edges"][0], "to": "nobody"}), "is not a service"),
        (lambda r: r["edges"].append({**r["edges"][3], "to": "billing"}), "is not a library"),
        (lambda r: r["edges"].append(dict(r["edges"][0])), "edge listed twice"),
        (
            lambda r: r["services"].append({"name": "Gateway-Service", "path": "x"}),
            "normalises like gateway",
        ),
        (lambda r: r["infrastructure"].append({"name": "redis", "kind": "kv"}), "kind 'kv'"),
        (lambda r: r["edges"][0].update(code=["services/gateway/main.go"]), "not path:line"),
        (lambda r: r["edges"][0].update(code=["other:main.go:3"]), "no repo 'other'"),
        (
            lambda r: r["edges"][2].update({"from": "orders-service", "to": "billing"}),
            "first name in order",
        ),
        (lambda r: r["repos"][0].update(commit="abc"), "40 hex"),
        (
            lambda r: r["services"][0].update(uses=[{"infra": "gateway", "code": []}]),
            "no such infrastructure",
        ),
    ],
)
def test_schema_rejects_inconsistent_truth(change: Any, message: str) -> None:
    raw = truth()
    change(raw)
    with pytest.raises(TruthError, match=message):
        system_from_dict(raw)


# --------------------------------------------------------------------------- scoring


def test_a_perfect_map_scores_one_everywhere() -> None:
    sc = score(system_from_dict(truth()), perfect_map(), always)
    assert (sc.services_found, sc.services_required) == (4, 4)  # the optional one not required
    assert sc.service_recall == sc.edge_precision == sc.edge_recall == 1.0
    assert sc.kind_agreement == sc.evidence_share == sc.infra_precision == 1.0
    assert (sc.true_pairs, sc.predicted_pairs, sc.edges_required) == (4, 4, 4)
    assert sc.infra_recall == pytest.approx(2 / 3)  # locust is not reported
    assert not (sc.false_edges or sc.edges_missed or sc.kind_confusions or sc.evidence_bad)


def test_services_match_through_aliases_and_paths_and_infra_as_service_is_counted() -> None:
    m = perfect_map()
    m["services"] = [
        {"name": "API_GW", "path": "x"},  # alias of gateway
        {"name": "orders", "path": "services/orders"},  # "orders-service" normalised
        {"name": "svc-a", "path": "services/shipping_svc"},  # by its folder only
        {"name": "Kafka", "path": "infra/kafka"},  # infrastructure reported as a service
        {"name": "common", "path": "libs/common"},  # a library reported as a service
        {"name": "mobile", "path": "apps/mobile"},  # optional: matched, not required
    ]
    sc = score(system_from_dict(truth()), m, always)
    assert sc.services_missed == ["billing"]
    assert sc.service_recall == pytest.approx(3 / 4)
    assert sc.infra_as_service == ["Kafka (is kafka, broker)"]
    assert sc.libraries_as_service == ["common (is library common)"]
    assert sc.infra_precision == pytest.approx(5 / 6)
    assert sc.service_precision == pytest.approx(4 / 6)


def test_edges_resolve_through_the_maps_own_aliases() -> None:
    m = perfect_map()
    m["services"][1]["aliases"] = ["ord"]
    m["edges"][0]["to"] = "ord"  # kb named the callee by an alias it gave it
    sc = score(system_from_dict(truth()), m, always)
    assert sc.edge_recall == sc.edge_precision == 1.0


def test_a_service_that_is_a_whole_repo_matches_by_the_repos_name() -> None:
    raw = truth()
    raw["repos"].append(
        {
            "name": "billing-repo",
            "url": "https://example.invalid/b.git",
            "commit": COMMIT,
            "dir": "b",
        }
    )
    raw["services"][3].update(repo="billing-repo", path=".")
    m = perfect_map()
    m["services"][3] = {"name": "svc-7", "repo": "billing-repo", "path": "."}
    m["edges"][2]["from"] = "svc-7"
    sc = score(system_from_dict(raw), m, always)
    assert sc.service_recall == sc.edge_recall == sc.edge_precision == 1.0


def test_direction_counts_except_for_shared_db() -> None:
    m = perfect_map()
    m["edges"][0]["from"], m["edges"][0]["to"] = "orders-service", "gateway"  # reversed call
    m["edges"][2]["from"], m["edges"][2]["to"] = "orders-service", "billing"  # reversed shared_db
    sc = score(system_from_dict(truth()), m, always)
    assert sc.false_edges == ["orders-service -> gateway"]
    assert sc.edges_missed == ["gateway -> orders-service (sync_http, ORDERS_URL)"]
    assert (sc.true_pairs, sc.predicted_pairs) == (3, 4)
    assert sc.edge_recall == pytest.approx(3 / 4)


def test_false_missed_duplicate_optional_and_infra_edges() -> None:
    m = perfect_map()
    ev = m["edges"][0]["evidence"]
    m["edges"] += [
        # a second edge on a known pair (another kind) counts once
        {"from": "gateway", "to": "orders", "kind": "grpc", "via": "x", "evidence": ev},
        # the optional truth edge: neither a hit nor a false edge
        {"from": "mobile", "to": "gateway", "kind": "sync_http", "via": "/api", "evidence": ev},
        # an edge to infrastructure is not a service edge
        {
            "from": "orders-service",
            "to": "postgres",
            "kind": "shared_db",
            "via": "orders",
            "evidence": ev,
        },
        # an edge between unknown names
        {"from": "nobody", "to": "gateway", "kind": "sync_http", "via": "?", "evidence": ev},
    ]
    del m["edges"][1]  # the event edge is missed
    sc = score(system_from_dict(truth()), m, always)
    assert sc.predicted_pairs == 5  # 3 true + infra + unknown; the optional left out
    assert sc.true_pairs == 3
    assert sorted(sc.false_edges) == ["nobody -> gateway", "orders-service -> postgres"]
    assert sc.edges_to_infra == 1
    assert sc.edges_missed == ["orders-service -> shipping (async_event, order.placed)"]
    assert sc.edge_precision == pytest.approx(3 / 5)
    assert sc.edge_recall == pytest.approx(3 / 4)
    assert sc.kind_agreement == 1.0  # gateway->orders has sync_http among its kinds


def test_kind_agreement_and_evidence_share() -> None:
    m = perfect_map()
    m["edges"][1]["kind"] = "sync_http"  # the event edge, with the wrong kind
    m["edges"][2]["evidence"] = []
    m["edges"][3]["evidence"] = [
        {"repo": "tiny", "path": "gone.py", "line": 9},
        {"repo": "tiny", "path": "services/orders/app.py", "line": 0},
    ]

    def exists(repo: str, path: str, line: int) -> bool:
        return path != "gone.py"

    sc = score(system_from_dict(truth()), m, exists)
    assert sc.edge_recall == 1.0
    assert sc.kind_agreement == pytest.approx(3 / 4)
    assert sc.kind_confusions == [
        "orders-service -> shipping (async_event, order.placed): map says sync_http"
    ]
    assert sc.edges_without_evidence == 1
    assert (sc.evidence_real, sc.evidence_total) == (2, 4)
    assert sc.evidence_bad == ["tiny:gone.py:9", "tiny:services/orders/app.py:0"]


def test_an_empty_map_scores_zero_recall_and_no_precision() -> None:
    sc = score(
        system_from_dict(truth()), {"services": [], "edges": [], "infrastructure": []}, always
    )
    assert sc.service_recall == sc.edge_recall == 0.0
    assert sc.edge_precision is None and sc.evidence_share is None


def test_merge_pools_counts_across_systems() -> None:
    a = score(system_from_dict(truth()), perfect_map(), always)
    m = perfect_map()
    m["edges"] = m["edges"][:1]
    b = score(system_from_dict(truth(system="other")), m, always)
    pooled = merge_scores([a, b])
    assert (pooled.edges_found, pooled.edges_required) == (5, 8)
    assert pooled.edge_recall == pytest.approx(5 / 8)
    assert pooled.edges_missed[0].startswith("other: ")


# --------------------------------------------------------------------------- real repos


def _tiny_repo(root: Path) -> str:
    """The repo `truth()` describes, committed; returns its commit."""
    files = {
        "README.md": "# Tiny\n\nGateway calls orders; orders emits order.placed.\n",
        "services/gateway/main.go": "package main\n\n// ORDERS_URL is the orders service\n",
        "services/orders/app.py": "from libs.common import db  # orders table\n"
        "producer.send('order.placed', b'')\n",
        "services/shipping_svc/Main.java": "class Main {}\n",
        "services/billing/app.py": "x = 1\n",
        "apps/mobile/x.js": "fetch('/api')\n",
        "libs/common/__init__.py": "db = None\n",
        "load/locustfile.py": "pass\n",
    }
    repo = root / "tiny"
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "c")
    return git(repo, "rev-parse", "HEAD").strip()


def test_truth_check_reports_missing_files_short_files_and_lines_naming_nothing(
    tmp_path: Path,
) -> None:
    commit = _tiny_repo(tmp_path)
    raw = truth()
    raw["repos"][0]["commit"] = commit
    assert check_truth(system_from_dict(raw), PinnedFiles(system_from_dict(raw), tmp_path)) == []

    bad = copy.deepcopy(raw)
    bad["edges"][0]["code"] = [
        "services/gateway/main.go:1",
        "services/gateway/main.go:9",
        "services/gateway/nope.go:1",
    ]
    bad["edges"][0]["doc"] = {"path": "README.md", "section": "Architecture"}
    s = system_from_dict(bad)
    problems = check_truth(s, PinnedFiles(s, tmp_path))
    assert len(problems) == 4
    assert "names none of" in problems[1] and "'package main'" in problems[1]
    assert "the file has 3 lines" in problems[2]
    assert "nope.go:1: no such file" in problems[3]
    assert "no section 'Architecture'" in problems[0]


def test_checkout_problems_say_how_to_clone_and_pin(tmp_path: Path) -> None:
    commit = _tiny_repo(tmp_path)
    raw = truth()
    raw["repos"][0]["commit"] = commit
    assert checkout_problems(system_from_dict(raw), tmp_path) == []
    raw["repos"][0]["commit"] = "1" * 40
    (wrong,) = checkout_problems(system_from_dict(raw), tmp_path)
    assert "not at the pinned commit" in wrong and f"checkout -q {'1' * 40}" in wrong
    (missing,) = checkout_problems(system_from_dict(raw), tmp_path / "elsewhere")
    assert "git clone https://example.invalid/tiny.git" in missing


FAKE_KB = """#!{python}
import json, os, sys
args = sys.argv[1:]
home = args[args.index("--home") + 1]
cmd = args[args.index("--home") + 2:]
os.makedirs(home, exist_ok=True)
with open(os.environ["FAKE_KB_LOG"], "a") as log:
    nomap = " #nomap" if os.environ.get("KB_MAP_EXTRACTION") == "0" else ""
    log.write(" ".join(cmd) + nomap + "\\n")
if cmd[0] == "map":
    if os.environ.get("FAKE_KB_NO_MAP"):
        sys.stderr.write("Usage: kb [OPTIONS] COMMAND [ARGS]...\\nError: No such command 'map'.\\n")
        sys.exit(2)
    print(open(os.environ["FAKE_KB_MAP"]).read())
"""


def _fake_kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    kb = tmp_path / "kb"
    kb.write_text(FAKE_KB.format(python=sys.executable))
    kb.chmod(0o755)
    log = tmp_path / "kb.log"
    kb_map = tmp_path / "map.json"
    kb_map.write_text(json.dumps(perfect_map()))
    monkeypatch.setenv("FAKE_KB_LOG", str(log))
    monkeypatch.setenv("FAKE_KB_MAP", str(kb_map))
    return kb, log


def test_run_ingests_each_repo_by_name_and_prints_the_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repos = tmp_path / "repos"
    commit = _tiny_repo(repos)
    truth_dir = tmp_path / "truth"
    truth_dir.mkdir()
    raw = truth()
    raw["repos"][0]["commit"] = commit
    (truth_dir / "tiny.json").write_text(json.dumps(raw))
    kb, log = _fake_kb(tmp_path, monkeypatch)

    rc = main(["--repos-dir", str(repos), "--truth-dir", str(truth_dir), "--kb", str(kb)])
    out = capsys.readouterr().out
    assert rc == 0
    calls = log.read_text().splitlines()
    assert f"ingest git {repos / 'tiny'} --name tiny" in calls
    assert calls[0] == "map --help"  # asked before any ingest
    assert calls.count("map --format json") == 3  # best of three
    assert "| edge precision | 1.00 (4/4) | ≥ 0.85 | yes |" in out
    assert "| service recall | 1.00 (4/4) | ≥ 0.95 | yes |" in out
    # This kb reads KB_MAP_EXTRACTION: the ingest is timed again without the map.
    assert f"ingest git {repos / 'tiny'} --name tiny #nomap" in calls
    assert "| map share of ingest |" in out
    assert "| **overall** | 1.00 | 1.00 | 1.00 |" in out
    log.write_text("")
    main(["--repos-dir", str(repos), "--truth-dir", str(truth_dir), "--kb", str(kb),
          "--ingest-runs", "3"])  # fmt: skip
    ingests = [c for c in log.read_text().splitlines() if c.startswith("ingest")]
    assert len(ingests) == 6 and sum(c.endswith("#nomap") for c in ingests) == 3
    capsys.readouterr()
    monkeypatch.setattr("bench.map.kb_reads_switch", lambda *_: False)
    main(["--repos-dir", str(repos), "--truth-dir", str(truth_dir), "--kb", str(kb)])
    assert "KB_MAP_EXTRACTION is not read by this kb" in capsys.readouterr().out

    rc = main(["--repos-dir", str(repos), "--truth-dir", str(truth_dir), "--kb", str(kb), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and data["overall"]["edge_recall"] == 1.0
    assert data["systems"]["tiny"]["evidence_share"] == 1.0


def test_run_says_when_kb_has_no_map_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repos = tmp_path / "repos"
    commit = _tiny_repo(repos)
    truth_dir = tmp_path / "truth"
    truth_dir.mkdir()
    raw = truth()
    raw["repos"][0]["commit"] = commit
    (truth_dir / "tiny.json").write_text(json.dumps(raw))
    kb, log = _fake_kb(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_KB_NO_MAP", "1")

    rc = main(["--repos-dir", str(repos), "--truth-dir", str(truth_dir), "--kb", str(kb)])
    assert rc == 2
    assert NOT_AVAILABLE in capsys.readouterr().out
    assert not any(c.startswith("ingest") for c in log.read_text().splitlines())


def test_run_stops_with_clone_commands_when_a_checkout_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth_dir = tmp_path / "truth"
    truth_dir.mkdir()
    (truth_dir / "tiny.json").write_text(json.dumps(truth()))
    rc = main(["--repos-dir", str(tmp_path), "--truth-dir", str(truth_dir), "--truth-only"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "git clone https://example.invalid/tiny.git" in err
    assert f"checkout -q {COMMIT}" in err
