"""The publication stage: the serving file replaced atomically, version snapshots, the
publication log and rollback. It knows no particular table: what a table contributes to
the log and the plots is data (`core.dbt_manifest.PublishedTable`)."""
