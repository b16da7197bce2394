"""How long a seed op sleeps: uniform on [mean - jitter, mean + jitter], times the scale."""

from __future__ import annotations

import math
import random

from dagster import ConfigurableResource
from pydantic import Field, field_validator


class Timing(ConfigurableResource["Timing"]):
    """Uniform, not normal: "20 ± 10 s" in the seed is a hard range (as in opfleet's jobs)."""

    time_scale: float = Field(
        default=1.0,
        description="Multiplies every duration: 0.01 makes a 20 s op take 0.2 s; 0 makes"
        " every op instantaneous.",
    )

    @field_validator("time_scale")
    @classmethod
    def _finite_non_negative(cls, value: float) -> float:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"time_scale must be a finite number >= 0, not {value}")
        return value

    def duration_s(self, mean_s: float, jitter_s: float) -> float:
        return random.uniform(mean_s - jitter_s, mean_s + jitter_s) * self.time_scale
