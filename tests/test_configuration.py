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


def test_every_variable_is_in_settings_env_vars():
    assert names_in_code() - set(ENV_VARS) == set()
