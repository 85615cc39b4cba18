"""The ingest stage: read each source system, validate every row against the source
contract, load the valid rows into `raw` and quarantine the rest with their reason."""
