"""Foundations every stage of the library floor may use: the source contract, SQL quoting and
transactions, the clock, durable files, plots, severities, the dbt manifest and the layout of
the raw store. Nothing here imports a stage, Dagster or dbt."""
