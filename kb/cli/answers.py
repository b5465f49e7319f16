"""`kb ask`, `kb remember`, `kb feedback`, `kb gaps`: the assistant and what it learns."""

from __future__ import annotations

import json

import click

from kb.cli.base import err, example, get_kb, json_option, out, require_kb
from kb.contract.kinds import Feedback, Severity, WisdomKind
from kb.errors import KBError


@click.command()
@example(
    'kb ask "why is payment to order async?"',
    'kb ask "what must I never touch in inventory?" --json',
    'kb --home demo-out/kb ask "who knows the user token code now?" --k 3',
)
@click.argument("question")
@click.option(
    "--k",
    "k",
    type=click.IntRange(1, 50),
    default=5,
    show_default=True,
    help="How many sources to cite at most.",
)
@json_option("the answer")
@click.pass_context
def ask(ctx: click.Context, question: str, k: int, as_json: bool) -> None:
    """Answer a question from the knowledge base, with citations (or say it doesn't know)."""
    app = get_kb(ctx)
    require_kb(app)
    answer = app.ask(question, k=k)
    if as_json:
        click.echo(json.dumps(answer.to_json()))
        return
    style = "bold" if answer.answered else "bold yellow"
    out.print(f"[{style}]{question}[/]\n")
    out.print(answer.answer, markup=False)
    if answer.citations:
        out.print("\n[bold]Sources[/]")
        for c in answer.citations:
            extra = f" ({c.role})" if c.role not in ("answer",) else ""
            out.print(f"[{c.number}] {c.kind}: {c.title} — {c.where}{extra}", markup=False)
    out.print(
        f"\n[dim]confidence {answer.confidence:.2f} · answer id {answer.id} · "
        f"rate it: kb feedback {answer.id} up|down[/]"
    )


@click.command()
@example(
    'kb remember "Never deploy payment-service on Fridays after 3pm" --service payment-service',
    'kb remember "The nightly report reads inventory tables directly" --kind danger_zone '
    '--by "Alex Morgan"',
)
@click.argument("text")
@click.option("--service", help="The service this is about.")
@click.option(
    "--kind",
    type=click.Choice([k.value for k in WisdomKind]),
    default=WisdomKind.UNWRITTEN_RULE.value,
    show_default=True,
    help="What kind of knowledge this is.",
)
@click.option("--by", "by", help="Who is telling (name or email); later answers credit them.")
@click.option(
    "--severity",
    type=click.Choice([s.value for s in Severity]),
    default="medium",
    show_default=True,
    help="How much it matters.",
)
@json_option("the stored note")
@click.pass_context
def remember(ctx: click.Context, text: str, service: str | None, kind: str, by: str | None,
             severity: str, as_json: bool) -> None:  # fmt: skip
    """Teach kb something that is written nowhere, in your words; answers will cite you."""
    if not text.strip():
        raise KBError("nothing to remember: give the knowledge as TEXT")
    note = get_kb(ctx).remember(
        text, service=service, kind=WisdomKind(kind), by=by, severity=Severity(severity)
    )
    if as_json:
        click.echo(json.dumps(note.to_json()))
        return
    who = f" from {by}" if by else ""
    out.print(f"remembered {note.id}{who}" + (f" about {service}" if service else ""))
    if note.redacted:
        err.print(f"[yellow]{note.redacted} secret(s) were redacted before storing[/]")


@click.command()
@example("kb feedback 3f9a1c2b7d4e up", 'kb feedback 3f9a1c2b7d4e down --comment "ADR-2 is old"')
@click.argument("answer_id")
@click.argument("vote", type=click.Choice(["up", "down"]))
@click.option("--comment", help="What was wrong or missing.")
@click.pass_context
def feedback(ctx: click.Context, answer_id: str, vote: str, comment: str | None) -> None:
    """Rate an answer by its id; down-voted answers show up in `kb gaps`."""
    app = get_kb(ctx)
    require_kb(app)
    app.feedback(answer_id, Feedback(vote), comment)
    out.print(f"thanks: recorded {vote} for {answer_id}")


@click.command()
@example("kb gaps", "kb gaps --json")
@json_option("the gaps")
@click.pass_context
def gaps(ctx: click.Context, as_json: bool) -> None:
    """Knowledge gaps: unanswered and down-voted questions by service, and who could answer."""
    app = get_kb(ctx)
    require_kb(app)
    report = app.gaps()
    if as_json:
        click.echo(json.dumps(report.to_json(), default=str))
        return
    if not report.groups:
        out.print("no knowledge gaps recorded")
        return
    for group in report.groups:
        out.print(f"[bold]{group.service or '(no service)'}[/]")
        if group.ask:
            out.print("  best placed to answer: " + ", ".join(group.ask))
        for q in group.questions:
            why = "unanswered" if not q.answered else f"voted down: {q.feedback_comment or ''}"
            when = q.asked_at.isoformat()[:10]
            out.print(f"  - {q.question}  [dim]({why}, {when}, {q.id})[/]")
