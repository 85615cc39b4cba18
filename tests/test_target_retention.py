"""dbt invocation folders are pruned to the newest few, and nothing else under dbt/target/."""

import os

from dagster_project.transform.target_retention import prune_invocation_targets


def make_folders(root, names_and_ages, now):
    for name, age in names_and_ages:
        folder = root / name
        folder.mkdir()
        (folder / "run_results.json").write_text("{}")
        os.utime(folder, (now - age, now - age))


def test_keeps_the_newest_and_the_recent_and_anything_not_an_invocation(tmp_path):
    now = 2_000_000_000.0
    make_folders(tmp_path, [
        ("dbt_models-1234567-89abcde", 10 * 3600),
        ("dbt_models_2-1234567-89abcdf", 9 * 3600),
        ("dbt_models-aaaaaaa-bbbbbbb", 5 * 3600),
        ("dbt_models-ccccccc-ddddddd", 1800),  # beyond the newest 1 but young: maybe in use
        ("dbt_models-eeeeeee-fffffff", 60),
        ("compiled", 20 * 3600),
    ], now)
    (tmp_path / "partial_parse.msgpack").write_text("x")
    removed = prune_invocation_targets(tmp_path, keep=1, now=now)
    assert sorted(p.name for p in removed) == ["dbt_models-1234567-89abcde", "dbt_models-aaaaaaa-bbbbbbb",
                                              "dbt_models_2-1234567-89abcdf"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compiled", "dbt_models-ccccccc-ddddddd",
                                                         "dbt_models-eeeeeee-fffffff", "partial_parse.msgpack"]


def test_a_missing_target_folder_is_nothing_to_prune(tmp_path):
    assert prune_invocation_targets(tmp_path / "absent", keep=3) == []
