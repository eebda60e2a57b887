"""Prometheus metrics (SPEC §6)."""
