"""Built-in connectors, one module per source kind (registered as kb.connectors entry points)."""
