"""What the sample generators share: the invented regions, the first day, CSV writing."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import date

LABEL = "GENERATED SAMPLE DATA - invented numbers for trying toll, not real losses.\n"
REGIONS = [  # (regNameEng, regNameISO, Russian name, men 16-61.5)
    ("Moscow Oblast", "MOS", "Московская область", 2_300_000),
    ("St.Petersburg", "SPE", "Санкт-Петербург", 1_600_000),
    ("Tuva", "TY", "Республика Тыва", 90_000),
    ("Crimea", "UA-43", "Республика Крым", 557_000),
]
UNITS = ["professional army", "inmates", "volunteers", "conscripted"]
FIRST = date(2022, 2, 24)


@dataclass(frozen=True)
class Draw:
    """What a generator draws from: the seed, the days to cover, the shared random stream."""

    seed: int
    days: int
    rng: random.Random


def write_csv(header: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()
