"""The Dagster floor: assets, checks, resources, jobs and schedules, each stage a module that
wires library calls (see docs/architecture.md). Everything is built from one `Settings`."""

from __future__ import annotations

import dagster as dg

from ..settings import Settings
from . import history, ingest, nightly, prediction, publish, quality, transform
from .resources import build_resources

STAGES = (ingest, transform, prediction, history, quality, publish, nightly)


def build_definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions.merge(
        *(stage.definitions(settings) for stage in STAGES),
        dg.Definitions(resources=build_resources(settings)),
    )
