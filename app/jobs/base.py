"""What a job function returns, so its run record can say how much it did."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class JobStats:
    rows_read: int = 0
    rows_written: int = 0
