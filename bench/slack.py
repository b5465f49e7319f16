"""How fast `kb bot` acknowledges and answers, against the fake Slack, on the demo organisation.

    .venv/bin/python -m bench.slack                        # demo organisation, seed 42
    .venv/bin/python -m bench.slack --org DIR --home H     # reuse a generated org / kb home
    .venv/bin/python -m bench.slack --home H --questions 40 --concurrent 50 --json

The run builds (or reuses) the demo kb home as bench.retrieval does, copies it (the bot
records every question), and starts `kb bot --http` in its own process on a free port, its
Web API (KB_SLACK_API_URL) the fake Slack of tests/fakes served by this process. Each
question is an `app_mention` event signed with the signing secret and POSTed to the bot, as
Slack delivers it:

- **ack**: from sending the event to the bot's HTTP 200 (Slack gives up after 3 s);
- **answer after ack**: from that 200 to the fake receiving the `chat.postMessage` in the
  question's thread, one question at a time;
- **concurrent**: `--concurrent` questions sent at once from as many threads; each must be
  answered exactly once; the p95 is from sending to the answer posted.

Baselines measured in the same run give each figure a floor to be read against: the same
HTTP server's round trip on `GET /health` (the transport, no bolt) for the ack, and
`KB.ask` called directly on the same kb for the answer (kb's own work, no Slack).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.mcp import percentile
from bench.retrieval import DEMO_QUESTIONS, EVAL_DIR, _demo_org, build_kb_home, load_notes

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
TARGET_ACK_P95_MS = 100.0
TARGET_ANSWER_P95_MS = 1000.0


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _stats(values: Sequence[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 1),
            "p95_ms": round(percentile(ms, 95), 1), "max_ms": round(max(ms), 1)}  # fmt: skip


def _answered_at(slack: Any, ts: str) -> list[float]:
    return [r.at for r in slack.calls("chat.postMessage")
            if r.status == 200 and r.params.get("thread_ts") == ts]  # fmt: skip


def _wait_answered(slack: Any, stamps: Sequence[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(_answered_at(slack, ts) for ts in stamps):
            return
        time.sleep(0.005)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_bot(home: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """`kb bot --http` in its own process, as deployed; returns once it serves /health."""
    code = ("import sys; from bot.cli import bot; "
            "bot.main(sys.argv[1:], obj={'home': sys.argv[1]}, standalone_mode=True)")  # fmt: skip
    args = [sys.executable, "-c", code.replace("sys.argv[1:]", "sys.argv[2:]"), str(home),
            "--http", "--port", str(port), "--address", "127.0.0.1"]  # fmt: skip
    process = subprocess.Popen(args, env={**os.environ, **env}, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"kb bot exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("kb bot did not start within 300 s")


def measure(home: Path, questions: list[str], count: int, concurrent: int) -> dict[str, Any]:
    """Sequential acks and answers, then a concurrent burst, with the same-run baselines."""
    sys.path.insert(0, str(TESTS))
    from botslack import new_ts, slack_settings, workspace
    from fakes.slack_app import BOT_USER, SIGNING_SECRET, FakeSlack, SignedSender

    from kb import KB, Settings

    with FakeSlack(workspace(), lifetime_s=3600) as slack:
        env = {f"KB_{k.upper()}": str(v) for k, v in slack_settings(slack).items()}
        port = _free_port()
        process = start_bot(home, env, port)
        kb = KB(Settings(home=home))
        try:
            sender = SignedSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET)
            health = f"http://127.0.0.1:{port}/health"
            transport = []
            for _ in range(count):
                start = time.perf_counter()
                with urllib.request.urlopen(health, timeout=5) as response:
                    response.read()
                transport.append(time.perf_counter() - start)

            def event(ts: str, question: str) -> dict[str, Any]:
                return {"type": "app_mention", "channel": "C01", "user": "U01", "ts": ts,
                        "text": f"<@{BOT_USER}> {question}"}  # fmt: skip

            # The baseline, KB.ask on the same kb (this process, warmed like the bot's),
            # interleaved with the bot's answers.
            kb.ask(questions[0], record=False)
            direct, acks, after_ack = [], [], []
            for n in range(count):
                question = questions[n % len(questions)]
                start = time.perf_counter()
                kb.ask(question, record=False)
                direct.append(time.perf_counter() - start)
                ts = new_ts()
                status, _, took = sender.event(event(ts, question))
                acked = time.monotonic()
                assert status == 200, status
                acks.append(took)
                _wait_answered(slack, [ts], 30)
                after_ack.append(min(_answered_at(slack, ts)) - acked)

            stamps = [new_ts() for _ in range(concurrent)]
            sent: dict[str, float] = {}
            burst_acks: list[float] = []

            def send(n: int) -> None:
                sent[stamps[n]] = time.monotonic()
                _, _, took = sender.event(event(stamps[n], questions[n % len(questions)]))
                burst_acks.append(took)

            threads = [threading.Thread(target=send, args=(n,)) for n in range(concurrent)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            _wait_answered(slack, stamps, 120)
            time.sleep(1.0)  # a duplicate would show by now
            answers = {ts: _answered_at(slack, ts) for ts in stamps}
            once = sum(1 for at in answers.values() if len(at) == 1)
            end_to_end = [min(at) - sent[ts] for ts, at in answers.items() if at]
        finally:
            process.terminate()
            process.wait(30)
            kb.close()
    ack, answer = _stats(acks), _stats(after_ack)
    base_ack, base_answer = _stats(transport), _stats(direct)
    return {
        "ack": {**ack, "target_p95_ms": TARGET_ACK_P95_MS,
                "meets_target": ack["p95_ms"] <= TARGET_ACK_P95_MS,
                "baseline": {"what": "GET /health round trip, same server", **base_ack},
                "ratio_p95": round(ack["p95_ms"] / max(base_ack["p95_ms"], 0.1), 1)},
        "answer_after_ack": {**answer, "target_p95_ms": TARGET_ANSWER_P95_MS,
                             "meets_target": answer["p95_ms"] <= TARGET_ANSWER_P95_MS,
                             "baseline": {"what": "KB.ask in process, same kb", **base_answer},
                             "ratio_p95": round(answer["p95_ms"] / base_answer["p95_ms"], 2)},
        "concurrent": {"questions": concurrent, "answered_exactly_once": once,
                       "meets_target": once == concurrent, "ack": _stats(burst_acks),
                       "answer_end_to_end": _stats(end_to_end) if end_to_end else {}},
    }  # fmt: skip


def markdown(data: dict[str, Any]) -> str:
    """The report as a table."""
    a, b, c = data["ack"], data["answer_after_ack"], data["concurrent"]
    lines = [
        f"kb bot against the fake Slack, demo organisation ({data['date']}, {data['machine']}, "
        f"load average {data['load']} on {data['cores']} cores)",
        "",
        "| measure | p50 ms | p95 ms | target p95 | baseline p95 ms | ratio | ok |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        f"| ack ({a['n']} sequential) | {a['p50_ms']} | {a['p95_ms']} | ≤ 100 | "
        f"{a['baseline']['p95_ms']} (GET /health) | {a['ratio_p95']}× | {a['meets_target']} |",
        f"| answer posted after ack | {b['p50_ms']} | {b['p95_ms']} | ≤ 1000 | "
        f"{b['baseline']['p95_ms']} (KB.ask) | {b['ratio_p95']}× | {b['meets_target']} |",
        f"| {c['questions']} concurrent: ack | {c['ack']['p50_ms']} | {c['ack']['p95_ms']} "
        f"| ≤ 100 | | | {c['ack']['p95_ms'] <= TARGET_ACK_P95_MS} |",
        f"| {c['questions']} concurrent: send → answer | {c['answer_end_to_end']['p50_ms']} | "
        f"{c['answer_end_to_end']['p95_ms']} | | | | "
        f"{c['answered_exactly_once']}/{c['questions']} answered exactly once |",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Build or reuse the demo kb home, measure the bot against the fake Slack, print it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--org", type=Path, help="A generated demo organisation to reuse.")
    parser.add_argument("--home", type=Path, help="A kb home to reuse (built when missing).")
    parser.add_argument("--questions", type=int, default=40, help="Sequential questions.")
    parser.add_argument("--concurrent", type=int, default=50, help="Questions sent at once.")
    parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
    args = parser.parse_args(argv)

    org = _demo_org(args.org)
    home = args.home or Path(tempfile.mkdtemp(prefix="kb-bench-slack-")) / "kb"
    manifest = json.loads((org / "manifest.json").read_text())
    repos = {n: org / r["path"] for n, r in sorted(manifest["repos"].items())}
    notes = load_notes(EVAL_DIR / "demo_notes.json")
    build_kb_home(home, repos, org / manifest["slack"]["zip"], notes)
    questions = [q["question"] for q in json.loads(DEMO_QUESTIONS.read_text())["questions"]]
    scratch = Path(tempfile.mkdtemp(prefix="kb-bench-slack-run-")) / "kb"
    shutil.copytree(home, scratch)  # the bot records questions: the home stays as built
    try:
        _log(f"measuring the bot over {scratch}")
        data = measure(scratch, questions, args.questions, args.concurrent)
    finally:
        shutil.rmtree(scratch.parent, ignore_errors=True)
    data |= {"date": datetime.now(UTC).date().isoformat(),
             "machine": f"{platform.machine()}, {platform.python_version()}",
             "cores": os.cpu_count(), "load": round(os.getloadavg()[0], 1)}  # fmt: skip
    print(json.dumps(data, indent=2) if args.json else markdown(data))
    ok = all(data[k]["meets_target"] for k in ("ack", "answer_after_ack", "concurrent"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
