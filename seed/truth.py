"""The demo org's ground-truth tables: services, dependencies, ADRs, incidents, rules."""

from __future__ import annotations

from seed.files import adrs, postmortems

SERVICES = {
    "payment-service": {"owner": "alex", "team": "payments", "http": True, "events": True},
    "order-service": {"owner": "alex", "team": "orders", "http": True, "events": True},
    "inventory-service": {"owner": "alex", "team": "orders", "http": True, "events": False},
    "user-service": {"owner": "alex", "team": "identity", "http": True, "events": False},
    "notification-service": {"owner": "maria", "team": "comms", "http": False, "events": True},
    "analytics-service": {"owner": "maria", "team": "data", "http": False, "events": True},
}

# "from" depends on "to": caller → callee for HTTP, consumer → producer for events.
DECLARED = [
    (
        "order-service",
        "inventory-service",
        "sync_http",
        "POST /reservations",
        "order-service",
        "src/orders/inventory_client.py",
    ),
    (
        "order-service",
        "user-service",
        "sync_http",
        "GET /users/{id}",
        "order-service",
        "src/orders/user_client.py",
    ),
    (
        "notification-service",
        "user-service",
        "sync_http",
        "GET /users/{id}",
        "notification-service",
        "src/notifications/user_client.py",
    ),
    (
        "payment-service",
        "order-service",
        "async_event",
        "order.payment_requested",
        "payment-service",
        "src/payment/consumer.py",
    ),
    (
        "order-service",
        "payment-service",
        "async_event",
        "payment.completed",
        "order-service",
        "src/orders/payment_events.py",
    ),
    (
        "order-service",
        "payment-service",
        "async_event",
        "payment.failed",
        "order-service",
        "src/orders/payment_events.py",
    ),
    (
        "notification-service",
        "order-service",
        "async_event",
        "order.confirmed",
        "notification-service",
        "src/notifications/consumer.py",
    ),
    (
        "notification-service",
        "payment-service",
        "async_event",
        "payment.failed",
        "notification-service",
        "src/notifications/consumer.py",
    ),
    *[
        (
            "analytics-service",
            producer,
            "async_event",
            topic,
            "analytics-service",
            "src/analytics/consumers.py",
        )
        for producer, topic in (
            ("order-service", "order.created"),
            ("order-service", "order.payment_requested"),
            ("order-service", "order.confirmed"),
            ("payment-service", "payment.completed"),
            ("payment-service", "payment.failed"),
        )
    ],
]

# (repo, path, text that identifies the line, marker, why it matters)
DANGER = [
    (
        "inventory-service",
        "src/inventory/reservations.py",
        "# DO NOT change the lock ordering",
        "DO NOT",
        "high",
    ),
    (
        "inventory-service",
        "src/inventory/legacy/stock_sync.py",
        "# WARNING: legacy stock sync. Don't touch",
        "WARNING",
        "high",
    ),
    (
        "notification-service",
        "src/notifications/consumer.py",
        "# WARNING: never set auto_offset_reset",
        "WARNING",
        "high",
    ),
    (
        "user-service",
        "src/users/keys.py",
        "# DO NOT remove the previous key from the JWKS",
        "DO NOT",
        "high",
    ),
    (
        "payment-service",
        "src/payment/providers/stripe_gateway.py",
        "# HACK: Stripe reports",
        "HACK",
        "medium",
    ),
    (
        "payment-service",
        "src/payment/settlement.py",
        "# careful: payout reports are dated",
        "careful",
        "medium",
    ),
    ("order-service", "src/orders/pricing.py", "# XXX: legacy rounding", "XXX", "medium"),
    (
        "order-service",
        "src/orders/checkout.py",
        "# careful: publish only after the order row",
        "careful",
        "medium",
    ),
    (
        "analytics-service",
        "src/analytics/schemas.py",
        "# FIXME: hand-maintained copy",
        "FIXME",
        "low",
    ),
]

ADRS = [
    (
        "order-service",
        adrs.ORDER_0001_PATH,
        1,
        "Record architecture decisions",
        "nygard",
        "accepted",
        None,
        None,
        "alex",
    ),
    (
        "order-service",
        adrs.ORDER_0002_PATH,
        2,
        "Synchronous payment calls",
        "nygard",
        "superseded",
        None,
        3,
        "alex",
    ),
    (
        "order-service",
        adrs.ORDER_0003_PATH,
        3,
        "Asynchronous payment via events",
        "nygard",
        "accepted",
        2,
        None,
        "alex",
    ),
    (
        "payment-service",
        adrs.PAYMENT_0001_PATH,
        1,
        "Use idempotency keys for every provider call",
        "madr",
        "accepted",
        None,
        None,
        "alex",
    ),
    (
        "payment-service",
        adrs.PAYMENT_0002_PATH,
        2,
        "Store money as integer minor units",
        "madr",
        "accepted",
        None,
        None,
        "alex",
    ),
    (
        "payment-service",
        adrs.PAYMENT_0003_PATH,
        3,
        "Adyen as a fallback payment provider",
        "madr",
        "proposed",
        None,
        None,
        "alex",
    ),
    (
        "user-service",
        adrs.USER_0001_PATH,
        1,
        "JWT access tokens with rotating signing keys",
        "nygard",
        "accepted",
        None,
        None,
        "chen",
    ),
    (
        "inventory-service",
        adrs.INVENTORY_0001_PATH,
        1,
        "Row locks for stock reservations",
        "nygard",
        "accepted",
        None,
        None,
        "alex",
    ),
]

INCIDENTS = [
    (
        "INC-2024-03",
        "Checkout outage",
        "2024-03-14 14:02",
        "2024-03-14 14:49",
        "SEV1",
        ["order-service", "payment-service"],
        "inc-2024-03-14-checkout-outage",
        ("payment-service", postmortems.CHECKOUT_PATH),
        "alex",
        ["SHOP-412", "SHOP-413"],
        "Synchronous checkout→payment calls with 30 s timeouts and retries without idempotency "
        "keys: Stripe latency blocked every order-service worker and double-charged 38 customers.",
    ),
    (
        "INC-2025-02",
        "Order confirmation email storm",
        "2025-02-11 09:24",
        "2025-02-11 10:44",
        "SEV2",
        ["notification-service"],
        "inc-2025-02-11-email-storm",
        ("notification-service", postmortems.EMAIL_STORM_PATH),
        "maria",
        ["NOTIF-205", "NOTIF-210", "NOTIF-211"],
        "Renamed consumer group with auto_offset_reset=earliest replayed 7 days of events: "
        "41,230 duplicate emails.",
    ),
    (
        "INC-2025-07",
        "Inventory reservation deadlocks",
        "2025-07-22 12:07",
        "2025-07-22 12:45",
        "SEV2",
        ["inventory-service", "order-service"],
        "inc-2025-07-22-inventory-deadlock",
        ("inventory-service", postmortems.DEADLOCK_PATH),
        "alex",
        ["INV-471", "INV-472"],
        "INV-471 inverted the lock order in release_expired() (sku before warehouse).",
    ),
    (
        "INC-2026-05",
        "Analytics consumer lag",
        "2026-05-19 07:32",
        "2026-05-19 18:45",
        "SEV3",
        ["analytics-service", "payment-service"],
        "inc-2026-05-19-analytics-lag",
        None,
        "maria",
        ["PAY-640", "PAY-641", "ANA-612"],
        "PAY-640 added fx_rate to payment.completed without bumping schema_version; analytics' "
        "strict decoder crash-looped on it.",
    ),
    (
        "INC-2025-11",
        "Reservation deadlocks on Black Friday",
        "2025-11-28 11:14",
        "2025-11-28 12:00",
        "SEV2",
        ["inventory-service"],
        "inc-2025-11-28-reservation-deadlocks",
        None,
        "alex",
        ["INV-530"],
        "INV-530 took SKU locks before the warehouse lock in the batched expiry job: the "
        "lock-order inversion of INC-2025-07 again.",
    ),
    (
        "INC-2026-08",
        "Duplicate shipping emails",
        "2026-08-05 09:02",
        "2026-08-05 09:50",
        "SEV2",
        ["notification-service"],
        "inc-2026-08-05-shipping-emails",
        None,
        "maria",
        ["NOTIF-456", "NOTIF-457"],
        "NOTIF-456's new consumer group started from the earliest offset and re-sent three days "
        "of shipping emails: the replay of INC-2025-02 again.",
    ),
    (
        "INC-2026-09",
        "Analytics parks every order.created event",
        "2026-09-16 06:50",
        "2026-09-16 08:40",
        "SEV3",
        ["analytics-service", "order-service"],
        "inc-2026-09-16-analytics-orders",
        None,
        "maria",
        ["ORD-714"],
        "ORD-714 added sales_channel to order.created without bumping schema_version: the "
        "unversioned field of INC-2026-05 again.",
    ),
]

# The change each incident's write-up names as its cause: (repo, story commit key).
CAUSES = {
    "INC-2024-03": ("order-service", "ord-52"),
    "INC-2025-02": ("notification-service", "group-rename"),
    "INC-2025-07": ("inventory-service", "inv-471"),
    "INC-2026-05": ("payment-service", "fx-rate"),
    "INC-2025-11": ("inventory-service", "inv-530"),
    "INC-2026-08": ("notification-service", "notif-456"),
    "INC-2026-09": ("order-service", "ord-714"),
}
# A recurrence and the earlier incident with the same root cause (its write-up says so).
SAME_ROOT_CAUSE = {
    "INC-2025-11": "INC-2025-07",
    "INC-2026-08": "INC-2025-02",
    "INC-2026-09": "INC-2026-05",
}
# The page still open when the history ends, and the change behind it.
OPEN_PAGE = {
    "service": "payment-service",
    "symptom": "timeouts on POST /payments",
    "paged_at": "2026-10-30 16:10:05",
    "cause": ("payment-service", "pay-760"),
}

RULES = [
    (
        "friday-deploys",
        "Never deploy payment-service on Fridays after 15:00 UTC: the provider's "
        "settlement batch runs then.",
        "payments-team",
        "rule-friday",
        ["payment-service"],
    ),
    (
        "event-schema-version",
        "Always bump schema_version when adding a field to an event; "
        "analytics deserialises strictly.",
        "eng-backend",
        "rule-schema",
        ["analytics-service", "payment-service", "order-service"],
    ),
    (
        "inventory-columns",
        "Any stock_levels column change needs the matching analytics stock "
        "report change; no inventory migrations 01:00–03:00 UTC.",
        "eng-backend",
        "rule-inventory",
        ["inventory-service", "analytics-service"],
    ),
    (
        "jwks-grace",
        "Keep the previous signing key in the JWKS for 24 h after rotation.",
        "eng-backend",
        "rule-jwks",
        ["user-service"],
    ),
]
