"""Snapshot files: their contract, validation and loading (no Dagster here)."""
