"""The bookkeeping tables of the `raw` schema, by name: the ingest stage writes them, the
source rules of the quality stage read them."""

QUARANTINE = "raw._quarantine"
LOAD_STATE = "raw._load_state"
LOADED_FILES = "raw._loaded_files"
LOAD_HISTORY = "raw._load_history"
SOURCE_COLUMNS = "raw._source_columns"

# A quarantine reason without the offending values ("amount: 'x' is no decimal" -> "amount"),
# so that reasons count together however many different values broke them.
QUARANTINE_REASON_SQL = "regexp_replace(reason, ':[^;]*', '', 'g')"
