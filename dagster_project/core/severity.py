"""How serious a finding is: an ERROR blocks what follows, a WARN is recorded and shown."""

from __future__ import annotations

from enum import Enum


class Severity(str, Enum):
    ERROR = "ERROR"
    WARN = "WARN"
