"""Incident channels and the #incidents threads, written as the team wrote them."""

from __future__ import annotations

from seed.slack import Channel, Msg

PD_URL = "https://shopfast.pagerduty.com/incidents/"


def page(at: str, number: int, title: str, key: str, state: str = "Triggered") -> Msg:
    """A PagerDuty bot message (triggered or resolved)."""
    color = "#e01e5a" if state == "Triggered" else "#2eb67d"
    return Msg(
        at,
        "pagerduty",
        f"{state} #{number}: {title}",
        key=key,
        kind="bot",
        attachment={
            "fallback": f"[{state}] #{number}: {title}",
            "color": color,
            "title": f"#{number} {title}",
            "title_link": f"{PD_URL}Q{number}X7",
            "fields": [{"title": "Status", "value": state, "short": True}],
        },
    )


def checkout_outage() -> tuple[Channel, list[Msg]]:
    """INC-2024-03: the synchronous payment call takes checkout down."""
    ch = "inc-2024-03-14-checkout-outage"
    d = "2024-03-14 "
    msgs = [
        Msg(d + "14:04:50", "alex", "", kind="join"),
        Msg(d + "14:05:02", "chen", "", kind="join"),
        Msg(d + "14:05:05", "ben", "", kind="join"),
        Msg(d + "14:29:40", "priya", "", kind="join"),
        Msg(d + "14:35:50", "maria", "", kind="join"),
        Msg(
            d + "14:05:20",
            "alex",
            "Timeline starts here. 14:02 PagerDuty: order-service 5xx > 5% "
            "on POST /orders, checkout failing for most customers. I'm IC. <@chen> <@ben> please "
            "look at order-service, I'll check payment-service.",
        ),
        Msg(d + "14:06:02", "ben", "on it"),
        Msg(
            d + "14:07:45",
            "alex",
            "payment-service itself looks healthy: CPU 20%, no errors, but "
            "p99 of POST /payments is ~28s",
        ),
        Msg(
            d + "14:09:30",
            "ben",
            "order-service pods at 100% worker utilisation. orders-db is "
            "fine: 30 connections, no lock waits",
        ),
        Msg(
            d + "14:10:12",
            "alex",
            "hypothesis 1 (orders-db) ruled out. hypothesis 2: something "
            "checkout calls is slow and we're blocking on it",
        ),
        Msg(
            d + "14:12:05",
            "chen",
            "thread dumps from order-service-7d9f: all 64 workers are in "
            "`payment_client.charge` → httpx read. We're waiting on payment-service.",
            reactions=(("eyes", ("alex", "ben")),),
        ),
        Msg(
            d + "14:13:40",
            "alex",
            "and payment-service is waiting on Stripe. "
            "PAYMENT_TIMEOUT_SECONDS is 30 with 2 retries, so one checkout can hold a worker "
            "for 90s",
        ),
        Msg(
            d + "14:15:22",
            "ben",
            "Stripe latency: <https://grafana.example.internal/d/stripe/"
            "provider?from=1710423000000&to=1710426600000|Stripe provider dashboard> p99 28s "
            "since 13:55",
        ),
        Msg(
            d + "14:18:03",
            "alex",
            'Stripe status page: "Elevated API latency in EU". Not our '
            "bug, but our design turns their slowness into a full checkout outage.",
        ),
        Msg(
            d + "14:21:30",
            "alex",
            "mitigation 1: PAYMENT_TIMEOUT_SECONDS=5 on order-service and "
            "scaling 4 → 12 pods. rolling out now",
        ),
        Msg(d + "14:24:10", "chen", "rolled out, workers freeing up, error rate 60% → ~20%"),
        Msg(
            d + "14:31:15",
            "priya",
            "support is getting tickets: customers charged twice for one "
            "order. 3 so far, more coming",
        ),
        Msg(
            d + "14:32:40",
            "alex",
            "that's the retries: on a timeout we POST /payments again and "
            "payment-service creates a new PaymentIntent every time. No idempotency key.",
        ),
        Msg(
            d + "14:35:05",
            "alex",
            "mitigation 2: ORDER_PAYMENT_RETRIES=0. A failed checkout is "
            "better than a double charge.",
            reactions=(("+1", ("chen", "ben", "priya")),),
        ),
        Msg(
            d + "14:36:30",
            "maria",
            "I can pull the double charges from the warehouse: same "
            "order_id, two captured payments",
        ),
        Msg(d + "14:41:20", "ben", "Stripe latency coming down, p99 2.1s"),
        Msg(
            d + "14:44:50",
            "maria",
            "38 customers double-charged, EUR 4,912.40 in total. Query in the thread.",
            key="dbl",
        ),
        Msg(
            d + "14:45:30",
            "maria",
            "`select order_id, count(*) from payments where captured_at > "
            "'2024-03-14 13:50' group by 1 having count(*) > 1` → 38 rows, exported to the "
            "finance sheet",
            thread="dbl",
        ),
        Msg(d + "14:46:10", "alex", "thanks, I'll do the refunds with finance", thread="dbl"),
        Msg(
            d + "14:49:40",
            "alex",
            "root cause: checkout calls payment-service synchronously "
            "(ADR-0002) with a 30s timeout and 2 retries, which ORD-52 (deployed 13:20 today) "
            "extended to read timeouts. "
            "When Stripe latency spiked, every "
            "order-service worker blocked on POST /payments, and the retries, sent without "
            "idempotency keys, charged 38 customers twice.",
            key="root",
            reactions=(("dart", ("chen", "maria")),),
        ),
        Msg(
            d + "14:50:10",
            "alex",
            "resolved: 14:49 UTC, checkout error rate back to baseline. "
            "Duration 47 minutes (14:02–14:49). Keeping timeout 5s / retries 0 until the real "
            "fix.",
        ),
        Msg(
            d + "14:55:00",
            "alex",
            "Follow-ups:\n• SHOP-412 stop calling payment-service from "
            "checkout. I'll write an ADR for going async via events (order.payment_requested → "
            "payment.completed / payment.failed)\n• SHOP-413 idempotency keys on every Stripe "
            "call\n• SHOP-414 alert on order-service worker saturation (<@ben>)\n• SHOP-415 "
            "refund the 38 (me + finance)\n• SHOP-416 load test checkout with a slow provider "
            "stub (<@chen>)",
        ),
        Msg(
            d + "15:02:00",
            "chen",
            "+1 on async. payment-service should be idempotent "
            "regardless: with Kafka, redeliveries are normal",
        ),
        Msg(
            d + "15:04:30",
            "alex",
            "yes, both. idempotency tomorrow, async early next week",
            edited=d + "15:05:10",
        ),
        Msg(
            d + "17:31:00",
            "alex",
            "All 38 refunds issued. Postmortem draft will live in "
            "payment-service docs/postmortems/2024-03-14-checkout-outage.md",
        ),
        Msg(
            "2024-03-15 12:20:00",
            "alex",
            "ADR-0003 (asynchronous payment via events) is up for "
            "review: order-service docs/adr/0003-async-payment-via-events.md. It supersedes "
            "ADR-0002.",
        ),
        Msg(
            "2024-03-19 16:35:00",
            "alex",
            "SHOP-412 is merged (order-service #87) and the "
            "payment-service consumer is live: checkout no longer calls payment-service. "
            "Archiving this channel.",
        ),
    ]
    channel = Channel(
        ch,
        d + "14:04:50",
        "alex",
        "INC-2024-03 Checkout outage (SEV1)",
        topic="IC: Alex | status: resolved 14:49 UTC",
        members=("alex", "chen", "ben", "priya", "maria"),
        archived=True,
        messages=msgs,
    )
    incidents = [
        page(d + "14:02:31", 1187, "order-service: 5xx rate > 5% on POST /orders", "pd1187"),
        Msg(d + "14:03:10", "alex", "ack, looking", thread="pd1187"),
        Msg(
            d + "14:04:40",
            "alex",
            f"Declaring INC-2024-03 (SEV1): checkout failing. Working in <#{ch}>. I'm IC.",
            key="inc202403",
        ),
        Msg(
            d + "14:30:05",
            "alex",
            "Update: Stripe latency + our synchronous payment calls. "
            "Mitigations in, partial recovery.",
            thread="inc202403",
        ),
        Msg(
            d + "14:51:00",
            "alex",
            "Resolved at 14:49 UTC. 38 customers were charged twice; "
            "refunds in progress. Postmortem to follow (SHOP-412).",
            thread="inc202403",
            broadcast=True,
        ),
        page(
            d + "14:52:02",
            1187,
            "order-service: 5xx rate > 5% on POST /orders",
            "pd1187r",
            state="Resolved",
        ),
    ]
    return channel, incidents


def email_storm(slack_token: str) -> tuple[Channel, list[Msg]]:
    """INC-2025-02: a renamed consumer group replays a week of emails."""
    ch = "inc-2025-02-11-email-storm"
    d = "2025-02-11 "
    msgs = [
        Msg(d + "09:27:40", "maria", "", kind="join"),
        Msg(d + "09:29:00", "priya", "", kind="join"),
        Msg(d + "09:38:30", "alex", "", kind="join"),
        Msg(
            d + "09:27:50",
            "maria",
            "IC: me. Send rate 20x normal; customers are getting 10+ "
            "confirmation emails for orders from last week.",
        ),
        Msg(
            d + "09:30:12",
            "priya",
            "we deployed notification-service at 09:05 with NOTIF-205 "
            "(one consumer group per environment). related?",
        ),
        Msg(
            d + "09:33:40",
            "maria",
            "hypothesis: new group name → no committed offsets → it "
            "starts from... what is auto_offset_reset set to?",
        ),
        Msg(d + "09:36:05", "priya", '"earliest" 😬'),
        Msg(
            d + "09:40:20",
            "alex",
            "confirmed: group notifications-production started at the "
            "earliest retained offset, 7 days back, on order.confirmed and payment.failed. "
            "It's replaying a week of emails.",
        ),
        Msg(d + "09:41:30", "maria", "can we just roll back?"),
        Msg(
            d + "09:42:10",
            "alex",
            "rollback moves us to the old group but the new one keeps "
            "draining on the next deploy. Scale the consumer to 0 now, then set the new group's "
            "offsets to latest and scale back up.",
        ),
        Msg(d + "09:52:30", "maria", "scaled to 0. SES is still sending what was already queued"),
        Msg(
            d + "10:05:00",
            "priya",
            "posted a note in <#general>, and the storefront status banner through the "
            "notify bot, used this:\n```curl -X POST https://slack.com/api/chat.postMessage -H "
            f"'Authorization: Bearer {slack_token}' -d channel=storefront-status -d "
            "text='We are aware of duplicate order emails'```",
            key="token-slack",
        ),
        Msg(
            d + "10:06:40",
            "alex",
            "<@priya> that's the notify-bot token, in a channel with a "
            "searchable history. Please revoke it in the app config and rotate.",
            thread="token-slack",
        ),
        Msg(
            d + "10:12:00",
            "priya",
            "revoked and rotated, the new one is only in Vault. sorry!",
            thread="token-slack",
        ),
        Msg(d + "10:20:15", "maria", "SES quota exhausted; real notifications are queued too now"),
        Msg(
            d + "10:38:00",
            "alex",
            "`kafka-consumer-groups --reset-offsets --to-latest` done for "
            "notifications-production, scaling back up",
        ),
        Msg(
            d + "10:44:30",
            "maria",
            "root cause: NOTIF-205 renamed the consumer group; the new "
            'group had no offsets and auto_offset_reset="earliest" made it replay 7 days of '
            "order.confirmed and payment.failed. 41,230 duplicate emails.",
        ),
        Msg(
            d + "10:45:00",
            "maria",
            "resolved: 10:44 UTC. SES quota resets at 11:00, queued real emails go out then.",
        ),
        Msg(
            d + "10:50:20",
            "alex",
            "follow-ups: dedupe on event_id (NOTIF-210), never reset to "
            "earliest (NOTIF-211), per-recipient rate limit (NOTIF-212). <@maria> postmortem in "
            "notification-service docs/postmortems?",
        ),
        Msg(d + "10:51:05", "maria", "yes, by next week"),
        Msg(
            "2025-02-18 13:05:00",
            "maria",
            "Postmortem is up: notification-service docs/postmortems/2025-02-11-email-storm.md",
        ),
    ]
    channel = Channel(
        ch,
        d + "09:27:40",
        "maria",
        "INC-2025-02 Order email storm (SEV2)",
        topic="IC: Maria",
        members=("maria", "priya", "alex"),
        archived=True,
        messages=msgs,
    )
    incidents = [
        page(d + "09:24:10", 2214, "notification-service: email send rate 20x baseline", "pd2214"),
        Msg(d + "09:26:00", "maria", "ack", thread="pd2214"),
        Msg(
            d + "09:27:30",
            "maria",
            f"INC-2025-02 (SEV2): we're sending duplicate order emails. <#{ch}>",
            key="inc202502",
        ),
        Msg(
            d + "10:45:40",
            "maria",
            "Resolved 10:44 UTC: consumer group replay, 41k duplicate "
            "emails sent. Postmortem to follow.",
            thread="inc202502",
            broadcast=True,
        ),
        page(
            d + "10:46:00",
            2214,
            "notification-service: email send rate 20x baseline",
            "pd2214r",
            state="Resolved",
        ),
    ]
    return channel, incidents
