"""Operations: running a job now."""

from __future__ import annotations

from app.schemas.common import Body, Flag


class RunJob(Body):
    """``POST /jobs/{name}/run``; ``full`` rebuilds everything (refresh-kpis)."""

    full: Flag = False
