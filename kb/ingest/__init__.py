"""Ingestion: runs a connector from its cursor, redacts, chunks, embeds and stores each batch."""
