"""The Ukrainian General Staff's cumulative claimed personnel losses (JSON, one report a day)."""

from __future__ import annotations

import json
from datetime import timedelta

from flows.s1_sources.catalogue import Source
from flows.s1_sources.samples.common import FIRST, Draw


def official_claims(source: Source, draw: Draw) -> dict[str, bytes]:
    claims, cumulative = [], 0
    for i in range(1, draw.days):
        cumulative += draw.rng.randint(100, 900)
        claims.append(
            {
                "date": (FIRST + timedelta(i)).isoformat(),
                "day": i + 1,
                "personnel": cumulative,
                "personnel*": "about",
            }
        )
    return {"ua_general_staff/russia_losses_personnel.json": json.dumps(claims, indent=4).encode()}
