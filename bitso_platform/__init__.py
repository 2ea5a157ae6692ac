"""bitso-platform: snapshot marts and order-book spread monitoring on Dagster."""
