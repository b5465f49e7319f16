"""Changes that broke production again the way an earlier change had, and the change behind
the page that is still open on the last afternoon of the history.

Each recurrence has its own incident channel (seed.slack_recurrences) whose root-cause line
names the change and the earlier incident; the incident plan's back-test scores both.
"""

from __future__ import annotations

from seed.model import append, replace, write
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

SHIPPING_CONSUMER = '''"""Shipping-update emails, consumed apart from order emails (NOTIF-318)."""

from aiokafka import AIOKafkaConsumer

from notifications.config import settings

CONSUMER_GROUP = "notifications-shipping"


def build_shipping_consumer() -> AIOKafkaConsumer:
    """A consumer of shipment.updated with its own group, so order emails never wait."""
    return AIOKafkaConsumer(
        "shipment.updated",
        bootstrap_servers=settings.kafka_brokers,
        group_id=CONSUMER_GROUP,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
'''

SALES_CHANNEL = """

# ORD-718: where an order came from (web, app, marketplace), for the channel report.
ORDER_CREATED_FIELDS = ("order_id", "customer_id", "total_minor", "currency", "sales_channel")
"""


def script(s: Script) -> None:
    """The recurring changes, their reverts, and the change behind the open page."""
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
        "feat(notifications): shipping updates get their own consumer group (NOTIF-318)",
        [write("src/notifications/shipping.py", SHIPPING_CONSUMER)],
        key="notif-318",
    )
    s.commit(
        "notification-service",
        "2026-08-05 10:05",
        "maria",
        "NOTIF-319 Start the shipping consumer group at the latest offset\n\n"
        "INC-2026-08: a new group with auto_offset_reset=earliest replayed three days of\n"
        "shipment.updated, as the renamed group did in INC-2025-02.\n",
        [
            replace(
                "src/notifications/shipping.py",
                'auto_offset_reset="earliest"',
                'auto_offset_reset="latest"',
            )
        ],
        key="notif-319",
    )
    s.commit(
        "order-service",
        "2026-09-15 14:05",
        "sofia",
        "feat(orders): add sales_channel to order.created (ORD-718)",
        [append("src/orders/events.py", SALES_CHANNEL)],
        key="ord-718",
    )
    s.commit(
        "payment-service",
        "2026-10-30 14:55",
        "sofia",
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
