"""The quality stage: source-level rules before transformation, Great Expectations suites on
the published marts, and the HTML reports an operator reads after a failed gate."""
