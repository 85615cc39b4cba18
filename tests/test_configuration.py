"""Every environment variable the code reads is documented, in the README and in settings.ENV_VARS."""

import re

from dagster_project.settings import ENV_VARS, PROJECT_ROOT

NAME = re.compile(r"\bCVW_[A-Z0-9_]+\b")
READ_BY = ["dagster_project/**/*.py", "dbt/models/**/*.sql", "dbt/macros/**/*.sql", "dbt/dbt_project.yml",
           "dbt/profiles.yml", "Makefile"]


def names_in_code() -> set[str]:
    found = set()
    for pattern in READ_BY:
        for path in PROJECT_ROOT.glob(pattern):
            found |= set(NAME.findall(path.read_text(encoding="utf-8")))
    return found


def test_the_code_reads_the_variables_this_test_expects_to_find():
    names = names_in_code()
    assert {"CVW_DATA_DIR", "CVW_INCREMENTAL_LOOKBACK_HOURS", "CVW_DBT_AS_OF_DATE", "CVW_DBT_TARGETS_KEPT"} <= names


def test_every_variable_is_in_the_readme_configuration_table():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(CVW_[A-Z0-9_]+)`", table, flags=re.MULTILINE))
    assert names_in_code() - documented == set()


def test_a_newcomer_reaches_the_two_commands_and_the_ways_in_on_the_first_screen():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    first_screen = "\n".join(readme[:35])
    assert "make run" in first_screen and "make test" in first_screen
    assert "#troubleshooting" in first_screen and "#connecting-bi-tools" in first_screen
    headings = {line.lstrip("#").strip().lower().replace(" ", "-") for line in readme if line.startswith("## ")}
    assert {"troubleshooting", "connecting-bi-tools"} <= headings  # the links land


def test_every_variable_is_in_settings_env_vars():
    assert names_in_code() - set(ENV_VARS) == set()


def test_dbt_falls_back_to_the_defaults_of_settings():
    """dbt run by hand reads its own env_var defaults: they must be the ones Settings holds."""
    from dagster_project.settings import ENV_FIELDS, Settings

    defaults = Settings()
    text = "".join((PROJECT_ROOT / "dbt" / name).read_text(encoding="utf-8") for name in ("dbt_project.yml", "profiles.yml"))
    found = dict(re.findall(r"env_var\('(CVW_[A-Z_]+)', '([^']*)'\)", text))
    assert {"CVW_BASE_CURRENCY", "CVW_CLV_HOLDOUT_DAYS", "CVW_INCREMENTAL_LOOKBACK_HOURS", "CVW_DUCKDB_MEMORY_LIMIT"} <= set(found)
    for variable, default in found.items():
        if variable in ENV_FIELDS and variable != "CVW_DATA_DIR":
            assert str(getattr(defaults, ENV_FIELDS[variable])) == default, variable


def test_every_settings_variable_is_documented():
    from dagster_project.settings import ENV_FIELDS

    assert set(ENV_FIELDS) <= set(ENV_VARS)


def test_a_bad_value_fails_at_once_naming_its_variable():
    import pytest

    from dagster_project.settings import SettingsError, settings_from_env

    with pytest.raises(SettingsError, match="CVW_GATE_VOLUME_FACTOR='ten': not a number"):
        settings_from_env({"CVW_GATE_VOLUME_FACTOR": "ten"})


def test_resources_and_partitions_come_from_settings_not_the_environment(tmp_path, monkeypatch, manifest):
    """Definitions built from a Settings carry its values, whatever the environment says."""
    from dagster_project.defs import build_definitions
    from dagster_project.settings import Settings

    monkeypatch.setenv("CVW_FIRST_AS_OF_DATE", "2021-01-01")
    monkeypatch.setenv("CVW_SERVING_PATH", str(tmp_path / "elsewhere.duckdb"))
    settings = Settings(data_dir=tmp_path, first_as_of_date="2025-06-01", publication_versions_kept=3)
    definitions = build_definitions(settings)
    serving = definitions.resources["serving"]
    assert serving.path == str(tmp_path / "serving" / "customer_value.duckdb") and serving.versions_kept == 3
    graph = definitions.resolve_asset_graph()
    partitions = graph.get(dg_key("marts/customer_value")).partitions_def
    assert partitions.start.date().isoformat() == "2025-06-01"


def dg_key(text: str):
    import dagster as dg

    return dg.AssetKey.from_user_string(text)
