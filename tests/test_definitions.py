"""The Dagster definitions load with the expected assets, checks, job and schedule."""

import uuid

import dagster as dg

from dagster_project.defs.nightly import as_of_for_tick


def test_definitions_load_with_every_stage(manifest):
    from dagster_project.definitions import defs

    definitions = defs()
    graph = definitions.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    expected = {
        "raw/commerce_customers", "raw/commerce_orders", "raw/commerce_order_lines", "raw/commerce_refunds",
        "raw/commerce_products", "raw/commerce_fx_rates", "raw/crm_accounts", "raw/referrals_referrals",
        "raw/voice_reviews", "raw/voice_feedback",
        "staging/stg_commerce__orders", "marts/customer_value", "published/serving_database",
        "intermediate/int_customers_rfm_summarised", "clv/model_fits", "clv/purchase_predictions",
        "marts/customer_cards", "marts/at_risk_customers", "marts/value_segment_summary", "marts/clv_model",
    }
    assert expected <= keys
    groups = {graph.get(dg.AssetKey.from_user_string(k)).group_name for k in expected}
    assert {"ingest", "staging", "intermediate", "models", "marts", "publish"} <= groups

    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert ("clv/model_fits", "clv_fit_reliable") in checks
    # every published table has its blocking Great Expectations suite
    published = {k for k in keys if k.startswith("marts/")}
    assert {(k, f"{k.split('/')[1]}_expectations") for k in published} <= checks
    assert len(published) >= 6
    # dbt data tests surface as asset checks too
    assert any(name.startswith("unique_customer_value_customer_key") for key, name in checks if key == "marts/customer_value")

    # Publication depends on every published mart, so a blocking check on one holds it back.
    serving = graph.get(dg.AssetKey(["published", "serving_database"]))
    assert {dg.AssetKey.from_user_string(k) for k in published} <= serving.parent_keys
    # the CLV model sits between dbt models: it reads dbt's RFM summary, dbt reads its predictions
    fits = graph.get(dg.AssetKey(["clv", "model_fits"]))
    assert dg.AssetKey(["intermediate", "int_customers_rfm_summarised"]) in fits.parent_keys
    assert dg.AssetKey(["staging", "stg_clv__model_fits"]) in fits.child_keys
    assert graph.get(dg.AssetKey(["marts", "customer_value"])).partitions_def is not None

    job = definitions.resolve_job_def("nightly")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} >= expected - {
        k for k in expected if k.startswith("raw/")
    }
    schedule = definitions.resolve_schedule_def("nightly_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.job_name == "nightly"


def test_nightly_tick_publishes_the_previous_day(manifest):
    from datetime import datetime, timezone

    from dagster_project.definitions import defs

    assert as_of_for_tick(datetime(2026, 3, 1, 2, 0)) == "2026-02-28"
    definitions = defs()
    schedule = definitions.resolve_schedule_def("nightly_schedule")
    with dg.instance_for_test() as instance:  # a persistent instance: the schedule reads its runs
        def tick():
            return schedule.evaluate_tick(dg.build_schedule_context(
                instance=instance, scheduled_execution_time=datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc),
                repository_def=definitions.get_repository_def(),
            ))

        (request,) = tick().run_requests
        assert request.partition_key == "2026-02-28"

        # a later tick for the same D (a cron firing more than once a day) skips a night queued,
        # running or published, and launches one that failed again
        for status, launches in ((dg.DagsterRunStatus.FAILURE, True), (dg.DagsterRunStatus.STARTED, False),
                                 (dg.DagsterRunStatus.SUCCESS, False)):
            instance.add_run(dg.DagsterRun(job_name="nightly", run_id=str(uuid.uuid4()),
                                           tags={"dagster/partition": "2026-02-28"}, status=status))
            result = tick()
            assert bool(result.run_requests) is launches, status
            if not launches:
                assert "the night of 2026-02-28 is already" in result.skip_message
        # another D is not affected
        assert "2026-02-28" not in [r.partition_key for r in schedule.evaluate_tick(dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc),
            repository_def=definitions.get_repository_def())).run_requests]


def test_full_refresh_and_republish_are_run_config_of_the_nightly_job(manifest):
    from dagster_project.cli import nightly_run_config
    from dagster_project.definitions import defs

    job = defs().resolve_job_def("nightly")
    config = nightly_run_config(full_refresh=True, republish=True)
    assert config["ops"]["dbt_models"]["config"]["full_refresh"] is True
    dg.validate_run_config(job, config)  # raises if the job has no such config
    dg.validate_run_config(job, nightly_run_config())


def test_the_readers_of_the_serving_file_are_assets_downstream_of_it():
    """dbt exposures (who reads the published marts) end the lineage in the UI, by rule."""
    from dagster_project.definitions import defs

    graph = defs().resolve_asset_graph()
    exposures = {k.path[1]: graph.get(k) for k in graph.get_all_asset_keys() if k.path[0] == "exposures"}
    assert {"serving_database", "frontline_lists", "crm_traits_sync"} <= set(exposures)
    serving = dg.AssetKey(["published", "serving_database"])
    assert all(node.parent_keys == {serving} for node in exposures.values())
    assert "at_risk_customers" in exposures["frontline_lists"].metadata["tables"]
    # read, not built: the nightly job never tries to materialise them
    nightly = defs().resolve_job_def("nightly")
    assert not [k for k in nightly.asset_layer.selected_asset_keys if k.path[0] == "exposures"]
