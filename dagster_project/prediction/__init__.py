"""The prediction stage: the nightly CLV fit on dbt's RFM summary, its holdout check, and
the compressed predictions written back for dbt (the model mathematics is `clv`)."""
