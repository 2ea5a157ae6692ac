"""Dagster definitions, one folder per domain; `bitso_platform.definitions` loads them all."""
