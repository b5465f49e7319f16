"""Incident channels of the recurrences (seed.recurrences) and the page still open at the
end of the history."""

from __future__ import annotations

from dataclasses import replace

from seed.slack import Channel, Msg
from seed.slack_incidents import page


def _incident(
    inc: str,
    ch: str,
    purpose: str,
    ic: str,
    members: tuple[str, ...],
    alert: tuple[str, int, str],
    msgs: list[Msg],
    resolved: str,
) -> tuple[Channel, list[Msg]]:
    """A channel, and the page, announcement, resolution and recovery in #incidents."""
    at, number, title = alert
    day = at[:11]
    channel = Channel(
        ch, msgs[0].at, ic, purpose, topic=f"IC: {ic.title()}", members=members,
        archived=True, messages=[*(Msg(msgs[0].at, who, "", kind="join") for who in members),
                                 *msgs], late=True,
    )  # fmt: skip
    key = inc.lower().replace("-", "")
    shared = [
        page(at, number, title, f"pd{number}"),
        Msg(msgs[0].at, ic, f"{inc}: {purpose}. <#{ch}>", key=key),
        Msg(msgs[-1].at, ic, resolved, thread=key, broadcast=True),
        page(day + msgs[-1].at[11:16] + ":30", number, title, f"pd{number}r", state="Resolved"),
    ]
    return channel, [replace(m, late=True) for m in shared]


def black_friday_deadlock() -> tuple[Channel, list[Msg]]:
    """INC-2025-11: SKU-first batches deadlock reservations again."""
    d = "2025-11-28 "
    return _incident(
        "INC-2025-11",
        "inc-2025-11-28-reservation-deadlocks",
        "INC-2025-11 Reservation deadlocks on Black Friday (SEV2)",
        "alex",
        ("alex", "priya", "maria"),
        (d + "11:14:10", 3722, "inventory-service: 5xx rate > 2% on POST /reservations"),
        [
            Msg(
                d + "11:16:00",
                "alex",
                "IC: me. inventory-service POST /reservations 5xx at "
                "6%, Postgres says `deadlock detected` again.",
            ),
            Msg(
                d + "11:21:30",
                "maria",
                "same pair as in July: reserve() against the expiry "
                "job. the job runs release_expired_in_batches since yesterday",
            ),
            Msg(
                d + "11:27:40",
                "priya",
                "that's my INV-530. it locks the SKU rows of a batch first, then their warehouses",
            ),
            Msg(
                d + "11:52:30",
                "alex",
                "fix: reverted INV-530; the expiry job is back to "
                "one reservation at a time, warehouse first",
            ),
            Msg(
                d + "12:02:00",
                "alex",
                "root cause: INV-530 took SKU locks before the "
                "warehouse lock in the batched expiry job: the lock-order inversion of "
                "INC-2025-07, on a path the regression test does not cover.",
            ),
            Msg(
                d + "12:03:00",
                "alex",
                "resolved: 12:00 UTC. deadlocks stopped after the revert was deployed.",
            ),
        ],
        "Resolved 12:00 UTC: SKU-first lock order in INV-530, reverted.",
    )


def shipping_email_replay() -> tuple[Channel, list[Msg]]:
    """INC-2026-08: a new consumer group replays three days of shipping emails."""
    d = "2026-08-05 "
    return _incident(
        "INC-2026-08",
        "inc-2026-08-05-shipping-emails",
        "INC-2026-08 Duplicate shipping emails (SEV2)",
        "maria",
        ("maria", "sofia", "priya"),
        (d + "09:02:20", 4702, "notification-service: email send rate 15x baseline"),
        [
            Msg(
                d + "09:05:00",
                "maria",
                "IC: me. customers are getting the same shipping "
                "email many times; notification-service send rate 15x",
            ),
            Msg(
                d + "09:11:30",
                "sofia",
                "the shipping consumer went out at 08:40 with "
                "NOTIF-456. new group, auto_offset_reset=earliest",
            ),
            Msg(
                d + "09:14:10",
                "maria",
                "so it started from the beginning of the topic. stopping the shipping consumer now",
            ),
            Msg(
                d + "09:48:00",
                "maria",
                "fix: NOTIF-457 starts the group at the latest "
                "offset; committed offsets moved to now before restarting",
            ),
            Msg(
                d + "09:55:00",
                "maria",
                "root cause: NOTIF-456 gave shipping updates a new "
                "consumer group that starts from the earliest offset, so three days of "
                "shipment.updated were sent again: the replay of INC-2025-02, on another "
                "topic.",
            ),
            Msg(d + "09:56:00", "maria", "resolved: 09:50 UTC. 9,400 duplicate emails."),
        ],
        "Resolved 09:50 UTC: new consumer group replayed shipment.updated.",
    )


def order_channel_field() -> tuple[Channel, list[Msg]]:
    """INC-2026-09: an unversioned field in order.created parks every event in analytics."""
    d = "2026-09-16 "
    return _incident(
        "INC-2026-09",
        "inc-2026-09-16-analytics-orders",
        "INC-2026-09 Analytics parks every order.created event (SEV3)",
        "maria",
        ("maria", "alex", "sofia"),
        (d + "06:50:30", 4833, "analytics-service: parked events > 1000 (order.created)"),
        [
            Msg(
                d + "06:55:00",
                "maria",
                "IC: me. analytics-service parks every order.created "
                "from order-service since yesterday afternoon; the sales report is empty",
            ),
            Msg(
                d + "07:08:20",
                "maria",
                "the parked events carry a sales_channel field. <@alex> was that ORD-714?",
            ),
            Msg(
                d + "07:15:45",
                "alex",
                "yes, deployed 14:35 yesterday. I did not bump schema_version, sorry",
            ),
            Msg(
                d + "08:40:00",
                "maria",
                "fix: order.created goes out as schema_version 2; "
                "analytics reads v2 and the parked events were replayed",
            ),
            Msg(
                d + "08:45:00",
                "maria",
                "root cause: ORD-714 added sales_channel to "
                "order.created without bumping schema_version, and analytics rejects unknown "
                "fields: the unversioned field of INC-2026-05 again.",
            ),
            Msg(d + "08:46:00", "maria", "resolved: 08:40 UTC. reports backfilled."),
        ],
        "Resolved 08:40 UTC: unversioned sales_channel in order.created.",
    )


def open_page() -> list[Msg]:
    """The page still open when the history ends: payment-service slows after PAY-760."""
    msgs = [
        page(
            "2026-10-30 16:10:05",
            4987,
            "payment-service: p99 latency > 10s on POST /payments",
            "pd4987",
        ),
        Msg(
            "2026-10-30 16:12:40",
            "alex",
            "ack, looking. payment workers are busy, Stripe status is green",
            thread="pd4987",
        ),
    ]
    return [replace(m, late=True) for m in msgs]


def recurrences() -> list[tuple[Channel, list[Msg]]]:
    """Every recurrence's channel and its messages in #incidents."""
    return [black_friday_deadlock(), shipping_email_replay(), order_channel_field()]
