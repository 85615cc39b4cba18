"""State that outlives every rebuild: the per-customer status history (metrics.md, "Status
history"), kept in the working database's `history` schema, outside anything dbt builds."""
