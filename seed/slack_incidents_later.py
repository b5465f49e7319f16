"""Later incident channels (2025-07, 2026-05) and pages handled without a channel."""

from __future__ import annotations

from seed.slack import Channel, Msg
from seed.slack_incidents import page


def inventory_deadlock() -> tuple[Channel, list[Msg]]:
    """INC-2025-07: an inverted lock order deadlocks reservations during the sale."""
    ch = "inc-2025-07-22-inventory-deadlock"
    d = "2025-07-22 "
    msgs = [
        Msg(d + "12:09:30", "alex", "", kind="join"),
        Msg(d + "12:10:00", "sofia", "", kind="join"),
        Msg(d + "12:12:10", "maria", "", kind="join"),
        Msg(
            d + "12:09:40",
            "alex",
            "IC: me. Sale started at 12:00; POST /reservations 5xx at 8%. "
            "Postgres logs: `ERROR: deadlock detected`.",
        ),
        Msg(d + "12:11:10", "sofia", "looking at pg_stat_activity"),
        Msg(
            d + "12:13:30",
            "maria",
            "dashboard: <https://grafana.example.internal/d/inventory/"
            "reservations?orgId=1&from=now-1h|reservations> deadlocks/min went from 0 to ~40 at "
            "12:03",
        ),
        Msg(
            d + "12:15:20",
            "sofia",
            "every deadlock is between reserve() (checkout) and "
            "release_expired() (the cron). Same two statements every time",
        ),
        Msg(
            d + "12:17:00",
            "alex",
            "hypothesis: lock order. reserve() takes warehouse, then sku. "
            "What does release_expired take?",
        ),
        Msg(
            d + "12:19:45",
            "sofia",
            "...sku, then warehouse, since my INV-471 yesterday 😞 I "
            "swapped it to cut waits on the warehouse row",
        ),
        Msg(
            d + "12:22:10",
            "alex",
            "that's it: opposite lock order means a deadlock whenever "
            "both run on the same warehouse, and the sale makes that constant. Not on you: the "
            "rule was only in ADR-0001, nowhere in the code.",
            key="lockorder",
            reactions=(("pray", ("sofia",)),),
        ),
        Msg(
            d + "12:24:00",
            "alex",
            "mitigation: suspend the expiry cronjob (reservations expire "
            "late, acceptable), then revert INV-471",
        ),
        Msg(d + "12:26:30", "sofia", "cronjob suspended. deadlocks stopped"),
        Msg(d + "12:31:00", "maria", "reservation errors under 0.5%, checkout recovering"),
        Msg(d + "12:33:50", "sofia", "revert of INV-471 merged, Alex approved"),
        Msg(d + "12:38:05", "alex", "revert deployed at 12:37"),
        Msg(d + "12:44:10", "alex", "expiry job resumed, no deadlocks for 5 minutes"),
        Msg(
            d + "12:45:30",
            "alex",
            "root cause: INV-471 inverted the lock order in "
            "release_expired() (sku before warehouse) while reserve() locks warehouse before "
            "sku. Under sale traffic the expiry job and checkouts deadlocked.",
        ),
        Msg(
            d + "12:46:00",
            "alex",
            "resolved: 12:45 UTC. 38 minutes. ~1,100 checkouts failed, "
            "214 reservations expired late.",
        ),
        Msg(
            d + "12:50:00",
            "alex",
            "follow-ups: INV-472 the lock order goes into reservations.py "
            "as a DO NOT comment plus a regression test (me); INV-473 assert the order in "
            "locks.py (<@sofia>); INV-474 alert on deadlocks (<@maria>). Postmortem in "
            "inventory-service docs/postmortems.",
        ),
        Msg(
            "2025-07-25 14:35:00",
            "alex",
            "Postmortem: inventory-service docs/postmortems/2025-07-22-inventory-deadlock.md",
        ),
    ]
    channel = Channel(
        ch,
        d + "12:09:30",
        "alex",
        "INC-2025-07 Inventory deadlocks (SEV2)",
        topic="IC: Alex",
        members=("alex", "sofia", "maria"),
        archived=True,
        messages=msgs,
    )
    incidents = [
        page(
            d + "12:07:20", 3051, "inventory-service: 5xx rate > 2% on POST /reservations", "pd3051"
        ),
        Msg(
            d + "12:09:00",
            "alex",
            f"INC-2025-07 (SEV2): reservations failing during the sale, checkout affected. <#{ch}>",
            key="inc202507",
        ),
        Msg(
            d + "12:46:30",
            "alex",
            "Resolved 12:45 UTC: lock-order deadlock from INV-471, reverted.",
            thread="inc202507",
            broadcast=True,
        ),
        page(
            d + "12:47:00",
            3051,
            "inventory-service: 5xx rate > 2% on POST /reservations",
            "pd3051r",
            state="Resolved",
        ),
    ]
    return channel, incidents


def analytics_lag(github_token: str) -> tuple[Channel, list[Msg]]:
    """INC-2026-05: a new event field without a schema bump stalls analytics."""
    ch = "inc-2026-05-19-analytics-lag"
    d = "2026-05-19 "
    msgs = [
        Msg(d + "07:42:00", "maria", "", kind="join"),
        Msg(d + "08:34:50", "sofia", "", kind="join"),
        Msg(d + "08:40:10", "alex", "", kind="join"),
        Msg(
            d + "07:42:30",
            "maria",
            "IC: me. Lag on consumer group analytics is 212k and "
            "growing; 97 pod restarts since 14:10 yesterday. Finance dashboards are empty.",
        ),
        Msg(
            d + "07:50:15",
            "maria",
            "logs: `UnexpectedField: payment.completed v1: ['fx_rate']`. "
            "Every restart reads the same offset and dies on it.",
        ),
        Msg(
            d + "07:58:40",
            "maria",
            "hypothesis: payment-service started sending fx_rate without "
            "a schema bump. <@sofia> did PAY-640 ship yesterday?",
        ),
        Msg(
            d + "08:35:20",
            "sofia",
            "yes, deployed 14:00 yesterday: fx_rate in payment.completed "
            "for the finance FX report. I forgot the schema version rule, sorry",
        ),
        Msg(
            d + "08:41:00",
            "alex",
            "This is the rule I keep repeating: add a field to an event, "
            "bump schema_version. analytics deserialises strictly on purpose (finance numbers). "
            "It isn't written down anywhere, which is on me.",
            key="rule",
            reactions=(("+1", ("maria", "sofia")),),
        ),
        Msg(
            d + "08:43:10",
            "alex",
            "two fixes: payment publishes payment.completed as v2 (me); "
            "analytics accepts v2 and parks undecodable events instead of crash-looping "
            "(<@maria>)",
        ),
        Msg(
            d + "09:15:00",
            "maria",
            "replaying from the jump box, cloning there: `git clone "
            f"https://mgarcia:{github_token}@github.com/shopfast/analytics-service.git`",
            key="token-gh",
        ),
        Msg(
            d + "09:16:30",
            "alex",
            "<@maria> that's a personal access token in the channel. "
            "Please revoke it now and use the deploy key on the jump box.",
            thread="token-gh",
        ),
        Msg(d + "09:20:10", "maria", "revoked. using the deploy key", thread="token-gh"),
        Msg(
            d + "11:35:40",
            "maria",
            "ANA-612 deployed: bad events are parked in parked_events "
            "and the consumer is moving again. lag 212k → 180k",
        ),
        Msg(d + "16:15:00", "alex", "PAY-641 deployed: payment.completed is now schema_version 2"),
        Msg(
            d + "16:50:30",
            "maria",
            "ANA-613 deployed: v2 accepted; replaying the 1,843 parked events",
        ),
        Msg(
            d + "18:44:50",
            "maria",
            "lag is 0, replay done, finance dashboards are back. root "
            "cause: PAY-640 added fx_rate to payment.completed without bumping schema_version; "
            "analytics' strict decoder rejected the event and the consumer restarted on the same "
            "offset for 21 hours.",
        ),
        Msg(
            d + "18:45:30",
            "maria",
            "resolved: 18:45 UTC. No data lost, 2026-05-18 reports rerun. SEV3, so no postmortem.",
        ),
    ]
    channel = Channel(
        ch,
        d + "07:42:00",
        "maria",
        "INC-2026-05 analytics consumer lag (SEV3)",
        topic="IC: Maria",
        members=("maria", "sofia", "alex"),
        archived=False,
        messages=msgs,
    )
    incidents = [
        page(
            d + "07:32:10",
            4410,
            "analytics-service: consumer lag > 100000 (group analytics)",
            "pd4410",
        ),
        Msg(
            d + "07:41:00",
            "maria",
            "ack. INC-2026-05 (SEV3): analytics consumer stuck, finance "
            f"dashboards empty since yesterday afternoon. <#{ch}>",
            key="inc202605",
        ),
        Msg(
            d + "18:46:10",
            "maria",
            "Resolved 18:45 UTC: unversioned fx_rate field in "
            "payment.completed; analytics now parks bad events.",
            thread="inc202605",
            broadcast=True,
        ),
        page(
            d + "18:46:40",
            4410,
            "analytics-service: consumer lag > 100000 (group analytics)",
            "pd4410r",
            state="Resolved",
        ),
    ]
    return channel, incidents


def minor_alerts() -> list[Msg]:
    """Pages that were handled in #incidents without an incident channel."""
    return [
        page("2024-06-21 03:12:40", 1502, "user-service: p99 latency > 1s", "pd1502"),
        Msg(
            "2024-06-21 03:16:05",
            "chen",
            "ack. one node with throttled CPU, argon2 hashing is "
            "slow there. cordoned it and moved the pods",
            thread="pd1502",
        ),
        page(
            "2024-06-21 03:24:00",
            1502,
            "user-service: p99 latency > 1s",
            "pd1502r",
            state="Resolved",
        ),
        page(
            "2024-10-08 09:40:15",
            1744,
            "payment-service: ConsumerLagHigh (order.payment_requested)",
            "pd1744",
        ),
        Msg(
            "2024-10-08 09:44:30",
            "alex",
            "Stripe blip, lag cleared on its own within 4 minutes "
            "and checkout never noticed. This is exactly what going async bought us.",
            thread="pd1744",
            reactions=(("tada", ("sofia", "maria", "priya")),),
        ),
        page("2025-04-15 02:31:00", 2610, "inventory-service: nightly stock sync failed", "pd2610"),
        Msg(
            "2025-04-15 07:05:20",
            "ben",
            "ERP export arrived truncated again (12k of 48k rows). "
            "re-ran the sync after they re-sent it",
            thread="pd2610",
        ),
        page("2025-10-02 10:02:00", 3377, "orders-db: disk usage > 85%", "pd3377"),
        Msg(
            "2025-10-02 10:20:40",
            "alex",
            "bloat on payment_requests after the autovacuum "
            "settings change; ran VACUUM and reverted the settings",
            thread="pd3377",
        ),
        page("2026-02-10 16:45:30", 3958, "notification-service: SES bounce rate > 5%", "pd3958"),
        Msg(
            "2026-02-10 16:58:00",
            "maria",
            "marketing imported an old list into the newsletter "
            "tool; not our sends. they've stopped it",
            thread="pd3958",
        ),
    ]
