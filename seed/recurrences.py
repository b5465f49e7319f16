"""The changes incidents are traced back to: the one before the checkout outage, those that
broke production again the way an earlier change had, and the one behind the page still open
on the last afternoon of the history.

Each recurrence has its own incident channel (seed.slack_recurrences) whose root-cause line
names the change and the earlier incident; the incident plan's back-test scores both. These
commits are written after the filler is scheduled and take no part in its calendar or ticket
numbering, so the rest of the history is what it was without them.
"""

from __future__ import annotations

from seed.model import append, replace
from seed.script import Script

BATCH_RELEASE = '''

def release_expired_in_batches(conn, batch_size: int = 500) -> int:
    """Release expired reservations a SKU batch at a time (INV-530).

    Locks the batch's SKU rows, then their warehouses.
    """
    released = 0
    for skus in expired_sku_batches(conn, batch_size):
        conn.execute("SELECT 1 FROM stock_levels WHERE sku = ANY(%s) FOR UPDATE", (skus,))
        conn.execute(
            "SELECT 1 FROM warehouses WHERE id IN (SELECT warehouse_id FROM stock_levels"
            " WHERE sku = ANY(%s)) FOR UPDATE",
            (skus,),
        )
        released += release_skus(conn, skus)
    return released
'''

# The commits this module writes, by key.
KEYS = ("ord-52", "inv-530", "inv-530-revert", "notif-456", "notif-457", "ord-714", "pay-760")

SHIPPING_GROUP = """
# NOTIF-456: shipping updates are consumed apart from order emails, so they never wait.
SHIPPING_CONSUMER_GROUP = "notifications-shipping"
SHIPPING_OFFSET_RESET = "earliest"
"""

SALES_CHANNEL = """

# ORD-714: where an order came from (web, app, marketplace), for the channel report.
ORDER_CREATED_FIELDS = ("order_id", "customer_id", "total_minor", "currency", "sales_channel")
"""


def script(s: Script) -> None:
    """The change behind the checkout outage, the recurring changes and their reverts, and
    the change behind the open page."""
    s.commit(
        "order-service",
        "2024-03-14 13:05",
        "ben",
        "ORD-52: Retry payment-service calls on read timeouts too\n\nStripe has short blips; "
        "one more try turns most of them into a sale.\n",
        [
            replace(
                "src/orders/payment_client.py",
                "except httpx.ConnectTimeout:",
                "except httpx.TimeoutException:",
            )
        ],
        key="ord-52",
    )
    s.commit(
        "inventory-service",
        "2025-11-27 15:10",
        "priya",
        "perf(inventory): release expired reservations in SKU batches (INV-530)\n\n"
        "Black Friday traffic makes the one-row-at-a-time expiry job fall behind.\n",
        [append("src/inventory/reservations.py", BATCH_RELEASE)],
        key="inv-530",
    )
    s.commit(
        "inventory-service",
        "2025-11-28 11:52",
        "alex",
        "Reverting during INC-2025-11: the SKU-first batches deadlock against reserve(),\n"
        "the lock order of INC-2025-07 again.",
        [],
        revert_of="inv-530",
        key="inv-530-revert",
    )
    s.commit(
        "notification-service",
        "2026-08-04 10:20",
        "sofia",
        "feat(notifications): shipping updates get their own consumer group (NOTIF-456)",
        [append("src/notifications/config.py", SHIPPING_GROUP)],
        key="notif-456",
    )
    s.commit(
        "notification-service",
        "2026-08-05 10:05",
        "maria",
        "NOTIF-457 Start the shipping consumer group at the latest offset\n\n"
        "INC-2026-08: a new group with auto_offset_reset=earliest replayed three days of\n"
        "shipment.updated, as the renamed group did in INC-2025-02.\n",
        [
            replace(
                "src/notifications/config.py",
                'SHIPPING_OFFSET_RESET = "earliest"',
                'SHIPPING_OFFSET_RESET = "latest"',
            )
        ],
        key="notif-457",
    )
    s.commit(
        "order-service",
        "2026-09-15 14:05",
        "alex",
        "feat(orders): add sales_channel to order.created (ORD-714)",
        [append("src/orders/events.py", SALES_CHANNEL)],
        key="ord-714",
    )
    s.commit(
        "payment-service",
        "2026-10-30 14:55",
        "alex",
        "PAY-760: Wait up to 20 s for Stripe before giving up\n\n"
        "A few PaymentIntents failed on 10 s timeouts during Stripe's maintenance window.\n",
        [
            replace(
                "src/payment/config.py",
                '"PROVIDER_TIMEOUT_SECONDS", "10"',
                '"PROVIDER_TIMEOUT_SECONDS", "20"',
            ),
        ],
        key="pay-760",
    )
