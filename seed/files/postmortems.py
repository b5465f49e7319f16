"""Postmortems, written the way the team writes them (blameless, with timelines)."""

from __future__ import annotations

CHECKOUT_PATH = "docs/postmortems/2024-03-14-checkout-outage.md"
CHECKOUT = """# Postmortem: Checkout outage (INC-2024-03)

- **Date:** 2024-03-14
- **Duration:** 47 minutes (14:02–14:49 UTC)
- **Severity:** SEV1
- **Incident commander:** Alex Morgan
- **Services:** order-service, payment-service
- **Ticket:** SHOP-412 (follow-ups SHOP-413 to SHOP-416)
- **Slack:** #inc-2024-03-14-checkout-outage

## Summary

Stripe's API latency rose from ~400 ms to more than 20 s for about 45 minutes.
order-service called payment-service synchronously during checkout (ADR-0002), so
every order-service request worker blocked waiting for `POST /payments`. Checkout
returned errors or timed out for 47 minutes. Timed-out payment calls were retried
without idempotency keys and 38 customers were charged twice.

## Impact

- About 2,300 checkout attempts failed or timed out.
- 38 customers were charged twice (EUR 4,912.40 in total); all refunded the same day.
- Browsing, search and order history were not affected.

## Timeline (UTC)

- 13:20 ORD-52 deployed: order-service retries payment calls on read timeouts too.
- 13:55 Stripe p99 latency starts climbing (EU region).
- 14:02 PagerDuty: order-service 5xx rate above 5 % on `POST /orders`. Alex paged.
- 14:04 Alex acknowledges, opens #inc-2024-03-14-checkout-outage, takes command.
- 14:09 Ben: order-service workers at 100 % utilisation; orders-db healthy.
- 14:12 Chen: thread dumps show all 64 workers blocked in `payment_client.charge`.
- 14:15 Ben shares the Stripe latency dashboard: p99 at 28 s.
- 14:18 Stripe status page confirms degraded API performance.
- 14:21 Mitigation: `PAYMENT_TIMEOUT_SECONDS` 30 → 5, order-service scaled 4 → 12 pods.
- 14:31 Support reports customers charged twice.
- 14:35 Mitigation: `ORDER_PAYMENT_RETRIES` set to 0.
- 14:41 Stripe latency recovering.
- 14:49 Checkout error rate back to baseline. Incident resolved.
- 17:30 All 38 duplicate charges refunded.

## Root cause

Checkout depended synchronously on the payment provider. ORD-52, deployed at 13:20
that day, made order-service retry payment calls that timed out waiting for an answer, not
only those that failed to connect. With a 30 s timeout and two retries, a slow provider
held each request worker for up to 90 s, exhausting the pool.
The retries created new PaymentIntents because calls carried no idempotency key, so
payments that had succeeded at Stripe after our timeout were charged again.

## Resolution

Shorter timeouts, more pods and disabling retries restored checkout while Stripe
recovered. The structural fix is to stop calling payment-service from the checkout
request at all (ADR-0003 in order-service).

## Action items

| ticket | action | owner | status |
| --- | --- | --- | --- |
| SHOP-412 | Make order→payment asynchronous via events (ADR-0003) | Alex | done 2024-03-19 |
| SHOP-413 | Idempotency keys on every provider call | Alex | done 2024-03-15 |
| SHOP-414 | Alert on order-service worker saturation | Ben | done 2024-03-22 |
| SHOP-415 | Refund the 38 duplicate charges | Alex | done 2024-03-14 |
| SHOP-416 | Load test checkout against a slow provider stub | Chen | open |

## What went well

- The dashboard pointed at the provider within 15 minutes.
- Finance and support were informed early; refunds went out the same afternoon.

## What went badly

- Nobody remembered that retries were on by default (`ORDER_PAYMENT_RETRIES=2`).
- ADR-0002 listed the double-charge risk and we had not revisited it.
"""

EMAIL_STORM_PATH = "docs/postmortems/2025-02-11-email-storm.md"
EMAIL_STORM = """# Postmortem: Order confirmation email storm (INC-2025-02)

- **Date:** 2025-02-11
- **Duration:** 1 h 20 min (09:24–10:44 UTC)
- **Severity:** SEV2
- **Incident commander:** Maria Garcia
- **Services:** notification-service
- **Slack:** #inc-2025-02-11-email-storm

## Summary

A refactor renamed notification-service's Kafka consumer group from
`notification-service` to `notifications`. The new group had no committed offsets and
the consumer was configured with `auto_offset_reset="earliest"`, so on deploy it
replayed seven days of `order.confirmed` and `payment.failed` events. Customers
received 41,230 duplicate emails before we stopped the consumer.

## Impact

- 41,230 duplicate order-confirmation and payment-failed emails to ~9,800 customers.
- Our SES sending quota was exhausted at 10:20; real notifications were delayed until
  11:05.
- About 300 support tickets over the following two days.

## Timeline (UTC)

- 09:05 notification-service deployed with the renamed consumer group.
- 09:24 PagerDuty: email send rate 20x baseline.
- 09:27 Maria takes command, opens #inc-2025-02-11-email-storm.
- 09:40 Alex confirms the new consumer group started from the earliest offset.
- 09:52 Consumer scaled to zero; emails already queued in SES keep going out.
- 10:20 SES quota exhausted.
- 10:38 Offsets of `notifications` set to latest; consumer scaled back up.
- 10:44 Send rate back to baseline. Resolved.

## Root cause

NOTIF-205 renamed the consumer group, and renaming a consumer group is equivalent to
creating a new one. Combined with
`auto_offset_reset="earliest"` and no deduplication on `event_id`, the service
treated a week of history as new work, and every message sends a real email.

## Action items

| ticket | action | owner | status |
| --- | --- | --- | --- |
| NOTIF-210 | Deduplicate sends on event_id | Maria | done 2025-02-12 |
| NOTIF-211 | Never reset to earliest in notification-service | Maria | done 2025-02-12 |
| NOTIF-212 | Per-recipient rate limit | Priya | done 2025-02-14 |
| NOTIF-213 | Review consumer-group changes in every event-driven service | Alex | open |
"""

DEADLOCK_PATH = "docs/postmortems/2025-07-22-inventory-deadlock.md"
DEADLOCK = """# Postmortem: Inventory reservation deadlocks (INC-2025-07)

- **Date:** 2025-07-22
- **Duration:** 38 minutes (12:07–12:45 UTC)
- **Severity:** SEV2
- **Incident commander:** Alex Morgan
- **Services:** inventory-service, order-service (checkout)
- **Slack:** #inc-2025-07-22-inventory-deadlock

## Summary

At the start of the summer sale Postgres began aborting inventory transactions with
`deadlock detected`. INV-471, deployed the day before, changed `release_expired()` to
lock the SKU row before the warehouse row, while `reserve()` locks the warehouse first.
Under sale traffic the expiry job and checkouts deadlocked every few seconds, and
checkout failed whenever its reservation was the victim.

## Impact

- About 1,100 checkouts failed with 409/500 responses.
- 214 reservations expired up to 30 minutes late, hiding stock from sale.
- No overselling and no data loss.

## Timeline (UTC)

- 2025-07-21 16:40 INV-471 deployed.
- 12:00 Summer sale campaign goes out.
- 12:07 PagerDuty: inventory-service 5xx; Postgres logs `deadlock detected`.
- 12:09 Alex takes command, opens #inc-2025-07-22-inventory-deadlock.
- 12:15 Sofia: deadlocks are always between `reserve()` and `release_expired()`.
- 12:22 Alex: INV-471 inverted the lock order in `release_expired()`.
- 12:26 Expiry cron job suspended; deadlocks stop.
- 12:33 Revert of INV-471 merged; deployed at 12:37.
- 12:45 Expiry job resumed; error rates at baseline. Resolved.

## Root cause

Lock ordering inversion. ADR-0001 requires warehouse lock before SKU lock on every
path; the rule was written in the ADR but not in the code, and the review of INV-471
did not catch it. The expiry job runs every minute and locks many rows, so it collided
with checkout as soon as traffic rose.

## Action items

| ticket | action | owner | status |
| --- | --- | --- | --- |
| INV-472 | Revert INV-471; lock order comment and regression test | Alex | done 2025-07-23 |
| INV-473 | Assert the lock order in `locks.py` | Sofia | open |
| INV-474 | Alert on Postgres deadlocks per database | Maria | done 2025-08-01 |
"""
