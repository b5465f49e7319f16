"""Team channels: #eng-backend and #payments-team, where the unwritten rules live."""

from __future__ import annotations

from datetime import date

from seed.people import PEOPLE, person
from seed.slack import Channel, Msg

HUMANS = tuple(p.key for p in PEOPLE if not p.is_bot)


def joins(people: tuple[str, ...], fallback: str) -> list[Msg]:
    """channel_join messages for people, at the later of their start date and `fallback`."""
    out = []
    for key in people:
        joined = max(person(key).joined, date.fromisoformat(fallback[:10]))
        out.append(Msg(f"{joined.isoformat()} 09:0{len(out) % 10}:00", key, "", kind="join"))
    return out


# Day-to-day #eng-backend traffic: reviews, questions, heads-ups.
_REVIEWS = (
    Msg(
        "2023-11-16 16:40:00",
        "alex",
        "inventory reservations lock rows: the warehouse row first, "
        "then the sku rows (ADR-0001 in inventory-service). If you write anything that locks "
        "both, keep that order.",
    ),
    Msg(
        "2024-02-20 10:05:00",
        "priya",
        "is there a staging user-service I can point the storefront at?",
        key="q-staging",
    ),
    Msg(
        "2024-02-20 10:11:00",
        "chen",
        "user-service.staging.shopfast.internal. Tokens verify "
        "against its /.well-known/jwks.json, not prod's",
        thread="q-staging",
    ),
    Msg(
        "2024-03-21 15:30:00",
        "ben",
        "analytics now consumes order.payment_requested, "
        "payment.completed and payment.failed as well (SHOP-412)",
    ),
    Msg(
        "2024-06-12 14:02:00",
        "sofia",
        "first PR, be gentle: <https://github.com/shopfast/"
        "order-service/pull/131|order-service#131> validate the order currency",
        key="pr-131",
    ),
    Msg(
        "2024-06-12 14:40:00",
        "alex",
        "approved with one nit on the test name. Welcome aboard!",
        thread="pr-131",
    ),
    Msg(
        "2024-10-09 09:20:00",
        "alex",
        "Nice validation of ADR-0003 yesterday: Stripe had a "
        "blip, payments lagged 4 minutes and checkout never noticed.",
    ),
    Msg(
        "2025-02-12 16:10:00",
        "maria",
        "After INC-2025-02: renaming a Kafka consumer group "
        "creates a new group with no offsets. Check auto_offset_reset before you deploy such a "
        "change, in any service.",
        reactions=(("+1", ("alex", "priya", "sofia")),),
    ),
    Msg(
        "2025-03-05 08:50:00",
        "priya",
        "who owns the legacy stock sync in inventory? it paged last night",
        key="q-sync",
    ),
    Msg(
        "2025-03-05 09:02:00",
        "ben",
        "me. the ERP export arrived truncated; re-running is safe once they resend it",
        thread="q-sync",
    ),
    Msg(
        "2025-11-05 10:30:00",
        "sofia",
        "INV-512 adds a NOT VALID check constraint on "
        "stock_levels; I'll validate it later in a quiet window",
        key="inv-512",
    ),
    Msg(
        "2025-11-05 10:36:00",
        "alex",
        "fine, just not between 01:00 and 03:00 UTC",
        thread="inv-512",
    ),
    Msg(
        "2026-05-20 09:00:00",
        "alex",
        "After INC-2026-05, once more for everyone: adding a "
        "field to an event means a new schema_version. analytics is strict on purpose.",
    ),
    Msg(
        "2026-10-06 10:15:00",
        "tom",
        "PR: <https://github.com/shopfast/payment-service/pull/"
        "402|payment-service#402> runbook: orders stuck in awaiting_payment",
        key="pr-402",
    ),
    Msg("2026-10-06 10:40:00", "alex", "approved, thanks Tom", thread="pr-402"),
)


def eng_backend() -> Channel:
    """#eng-backend: where Alex explains the rules nobody wrote down."""
    msgs = joins(HUMANS, "2023-11-06")
    msgs += [
        Msg(
            "2023-11-13 15:20:00",
            "ben",
            "Kafka is up in the dev cluster. Order events land in analytics from next week.",
        ),
        *_REVIEWS,
        Msg(
            "2024-05-21 11:05:00",
            "alex",
            "Reminder: never fix an order's status by hand in "
            "orders-db. Re-publish the event (order-service scripts/republish.py) and let the "
            "consumers do their thing; hand edits skip the events, so notification and "
            "analytics never hear about it.",
            reactions=(("+1", ("maria", "priya")),),
        ),
        Msg(
            "2024-09-10 10:30:00",
            "alex",
            "PSA, since we have new people: always bump the event "
            "schema version when you add a field to an event. analytics deserialises strictly, "
            "so an unknown field at the same version stops its consumer cold. Removing or "
            "renaming a field is a new version too.",
            key="rule-schema",
            reactions=(("+1", ("sofia", "maria", "priya")),),
        ),
        Msg("2024-09-10 10:34:00", "sofia", "noted 👍", thread="rule-schema"),
        Msg(
            "2024-09-10 10:41:00",
            "maria",
            "and please tell #data when you do, we replay with the new version",
            thread="rule-schema",
        ),
        Msg(
            "2025-01-16 14:00:00",
            "chen",
            "Handing tokens.py and keys.py in user-service over "
            "to <@alex>. Rotation docs: user-service docs/key-rotation.md.",
        ),
        Msg(
            "2025-06-04 09:50:00",
            "alex",
            "If you ever touch user-service keys.py: the previous "
            "signing key must stay in the JWKS for 24h after a rotation. Services cache the "
            "JWKS for an hour and the apps hold tokens signed with the old key, so dropping it "
            "early logs every customer out. I nearly did exactly that in USR-340.",
            key="rule-jwks",
        ),
        Msg(
            "2025-08-06 10:15:00",
            "alex",
            "Heads-up from Ben's handover notes (it surprised me "
            "too): analytics' stock report reads inventory's stock_levels table directly, "
            "through the reporting replica (REPORTING_DB_URL). No API, no event between them. "
            "So any column change in inventory needs the matching change in analytics "
            "reports/stock_report.py in the same go, and don't run inventory migrations between "
            "01:00 and 03:00 UTC: the legacy stock sync and the 02:00 stock report run then.",
            key="rule-inventory",
            reactions=(("eyes", ("maria", "sofia")),),
        ),
        Msg(
            "2025-08-06 10:22:00",
            "maria",
            "that explains all the DATA-* commit pairs in both "
            "repos. I'll take the analytics side from now on",
            thread="rule-inventory",
        ),
        Msg(
            "2026-09-15 14:10:00",
            "tom",
            "newbie question: why doesn't checkout just call "
            "payment-service and wait? seems simpler",
            key="q-async",
        ),
        Msg(
            "2026-09-15 14:22:00",
            "alex",
            "It used to (order-service ADR-0002). On 2024-03-14 "
            "Stripe got slow, every order-service worker blocked on POST /payments, checkout "
            "was down 47 minutes and retries double-charged 38 customers (INC-2024-03). Since "
            "SHOP-412 checkout publishes order.payment_requested and payment-service answers "
            "with payment.completed / payment.failed. Read ADR-0003 in order-service and the "
            "postmortem in payment-service docs/postmortems.",
            thread="q-async",
        ),
        Msg("2026-09-15 14:25:00", "tom", "makes sense, thanks!", thread="q-async"),
        Msg(
            "2026-09-17 11:05:00",
            "tom",
            "who should review a change to user-service tokens.py? CODEOWNERS says @chenwei-dev",
            key="q-tokens",
        ),
        Msg(
            "2026-09-17 11:12:00",
            "alex",
            "Chen left in January 2025; I've maintained tokens.py "
            "and keys.py since. Send it to me. CODEOWNERS for tokens.py is stale, thanks for "
            "spotting it.",
            thread="q-tokens",
        ),
        Msg(
            "2026-09-29 15:40:00",
            "tom",
            "what must I never touch in inventory-service?",
            key="q-inventory",
        ),
        Msg(
            "2026-09-29 15:52:00",
            "alex",
            "Two things. 1) the lock order in "
            "src/inventory/reservations.py: warehouse before sku, see the DO NOT comment and "
            "INC-2025-07. 2) src/inventory/legacy/stock_sync.py and the stock_levels columns: "
            "analytics reads those tables directly. And no migrations between 01:00 and 03:00 "
            "UTC.",
            thread="q-inventory",
            edited="2026-09-29 15:54:00",
        ),
    ]
    return Channel(
        "eng-backend",
        "2023-11-06 10:00:00",
        "alex",
        "Backend engineering: questions, reviews, heads-ups",
        members=HUMANS,
        messages=msgs,
    )


def payments_team() -> Channel:
    """#payments-team, including the Friday deploy rule."""
    members = ("alex", "chen", "sofia", "maria", "tom")
    msgs = joins(members, "2023-11-20")
    msgs += [
        Msg(
            "2023-12-12 17:05:00",
            "alex",
            "Settlement reconciliation job is live. Unmatched "
            "payout lines get posted here every night.",
        ),
        Msg(
            "2024-04-08 16:20:00",
            "alex",
            "GitGuardian flagged the AWS keys for the receipts "
            "bucket in payment-service config/settings.yaml (committed in February). Keys are "
            "deactivated, the service uses its IRSA role now, and PAY-58 removes them from the "
            "file. They stay in git history, so treat them as burnt.",
        ),
        Msg(
            "2024-07-12 15:22:00",
            "sofia",
            "deploying payment-service with the saved payment methods endpoint",
            key="friday",
        ),
        Msg(
            "2024-07-12 15:25:00",
            "alex",
            "Please hold it until Monday: never deploy "
            "payment-service on Fridays after 3pm UTC. Stripe's settlement batch runs then, and "
            "a restart mid-batch leaves payouts half-reconciled; finance then fixes them by "
            "hand.",
            thread="friday",
            key="rule-friday",
        ),
        Msg(
            "2024-07-12 15:27:00",
            "sofia",
            "ok, Monday it is. is that written down anywhere?",
            thread="friday",
        ),
        Msg("2024-07-12 15:31:00", "alex", "...no. It should be.", thread="friday"),
        Msg("2024-10-22 15:40:00", "sofia", "Apple Pay / Google Pay merged (PAY-120) 🎉"),
        Msg(
            "2025-10-14 11:00:00",
            "alex",
            "MADR 0003 (Adyen as fallback provider) is proposed in "
            "payment-service docs/decisions. Comments welcome before the finance review.",
        ),
        Msg(
            "2026-10-02 15:18:00",
            "tom",
            "shipping the runbook update for payment-service now",
            key="friday2",
        ),
        Msg(
            "2026-10-02 15:21:00",
            "alex",
            "<@tom> hold it until Monday please: we never deploy "
            "payment-service on Fridays after 3pm UTC, the provider's settlement batch runs "
            "then. Not written anywhere, I know.",
            thread="friday2",
        ),
    ]
    return Channel(
        "payments-team",
        "2023-11-20 10:00:00",
        "alex",
        "Payments: Stripe, refunds, settlement",
        members=members,
        messages=msgs,
    )
