"""The transform stage's plain parts: how dbt is found and started, and the pruning of its
per-invocation folders (the models themselves are the dbt project in `dbt/`)."""
