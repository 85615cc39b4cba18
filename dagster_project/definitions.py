"""Dagster entry point (`dagster dev -m dagster_project.definitions`): the definitions built
from the settings the environment gives when Dagster loads them."""

import dagster as dg

from .defs import build_definitions
from .settings import settings_from_env


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(settings_from_env())
