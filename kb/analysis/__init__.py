"""Analyses over stored facts: knowledge risk (bus factor, experts, hotspots, staleness)."""
