"""Golden outputs of the demo organisation: what kb's commands print, kept byte for byte.

`capture(app)` runs the commands through the CLI in process on a freshly built demo KB and
returns each output with its volatile parts (answer ids, question timestamps) masked, so a
change of structure that changes behaviour shows up as a diff. `python tests/golden.py`
builds the demo organisation and its KB in a temp dir and rewrites `tests/golden/`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).with_name("golden")

# Ten questions of bench/eval/demo.json, across its categories; the last cannot be answered.
QUESTIONS = (
    "why is payment→order async?",
    "what must I never touch in inventory?",
    "who knows the user token code now?",
    "If the same charge request reaches us twice, what stops the shopper from paying twice?",
    "Lots of orders are stuck waiting for payment — what do I look at first?",
    "Refresh tokens used to last a month — when and why did that get shorter?",
    "How do I get the whole shop running on my laptop?",
    "Can I roll out a payment-service release on a Friday afternoon?",
    "Which change introduced the deadlocks during the summer sale, and how was it undone?",
    "What's the plan for moving the orders database to CockroachDB?",
)

COMMANDS: dict[str, list[str]] = {
    "bus-factor": ["bus-factor", "--json"],
    "bus-factor-avelino2016": ["bus-factor", "--algorithm", "avelino2016", "--json"],
    "bus-factor-without": ["bus-factor", "--without", "Alex Morgan", "--json"],
    "bus-factor-without-avelino2016": [
        "bus-factor",
        "--algorithm",
        "avelino2016",
        "--without",
        "Alex Morgan",
        "--json",
    ],
    "who-service": ["who", "payment-service", "--json"],
    "who-path": ["who", "user-service:src/users/tokens.py", "--json"],
    "who-topic": ["who", "refund retries", "--json"],
    "hotspots": ["hotspots", "--json"],
    "wisdom-stale": ["wisdom", "--stale", "--json"],
}

_ID = re.compile(r'"id": "[0-9a-f]{12}"')
_ASKED_AT = re.compile(r'"asked_at": "[^"]+"')


def _run(app: Any, args: list[str]) -> str:
    from click.testing import CliRunner

    from kb.cli import cli

    result = CliRunner().invoke(cli, args, obj={"kb": app}, catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    return result.output


def _pretty(raw: str) -> str:
    return json.dumps(json.loads(raw), indent=1, ensure_ascii=False, sort_keys=False) + "\n"


def capture(app: Any) -> dict[str, str]:
    """Every golden output of `app` (a freshly ingested demo KB), by name."""
    outputs: dict[str, str] = {}
    for n, question in enumerate(QUESTIONS, start=1):
        outputs[f"ask-{n:02d}"] = _ID.sub(
            '"id": "*"', _pretty(_run(app, ["ask", question, "--json"]))
        )
    for name, args in COMMANDS.items():
        outputs[name] = _pretty(_run(app, args))
    gaps = json.loads(_run(app, ["gaps", "--json"]))
    # Only this capture's questions: the gaps of a KB other tests have asked things of too.
    for group in gaps["services"]:
        group["questions"] = [q for q in group["questions"] if q["question"] in QUESTIONS]
    gaps["services"] = [g for g in gaps["services"] if g["questions"]]
    gaps["total"] = sum(len(g["questions"]) for g in gaps["services"])
    text = json.dumps(gaps, indent=1, ensure_ascii=False) + "\n"
    outputs["gaps"] = _ASKED_AT.sub('"asked_at": "*"', _ID.sub('"id": "*"', text))
    return outputs


def read_golden() -> dict[str, str]:
    """The recorded outputs, by name."""
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(GOLDEN_DIR.glob("*.json"))}


def _write(outputs: dict[str, str]) -> None:
    GOLDEN_DIR.mkdir(exist_ok=True)
    for old in GOLDEN_DIR.glob("*.json"):
        old.unlink()
    for name, text in outputs.items():
        (GOLDEN_DIR / f"{name}.json").write_text(text, encoding="utf-8")


def main() -> int:
    """Build the demo KB in a temp dir and rewrite tests/golden/."""
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import ingest_demo

    from kb.app import KB
    from kb.embedding.embedder import SentenceTransformerEmbedder
    from kb.settings import Settings
    from seed import generate_demo_org

    with tempfile.TemporaryDirectory() as tmp:
        org = generate_demo_org(Path(tmp) / "org", seed=42)
        app = KB(Settings(home=Path(tmp) / "kb"), embedder=SentenceTransformerEmbedder())
        app.init()
        ingest_demo(app, org)
        try:
            _write(capture(app))
        finally:
            app.close()
    print(f"wrote {len(list(GOLDEN_DIR.glob('*.json')))} files to {GOLDEN_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
