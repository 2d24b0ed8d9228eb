"""The chaos smoke inside `make test`: duplicate storms and poison messages against a real stack
(separate simulator, webhook, worker and scheduler processes). The SIGKILL scenario is left to
`make chaos-smoke`; tests/workers/failures/test_worker_kill.py covers it in `make test`."""

from __future__ import annotations

import pytest

from tests.chaos.run import run_one
from tests.conftest import REDIS_URL


@pytest.mark.slow
@pytest.mark.timeout(90)
@pytest.mark.parametrize("name", ["duplicates", "poison"])
def test_chaos_smoke(name: str) -> None:
    # Given a fresh stack in its own namespace
    # When the scenario's fault is applied (a 5-10x duplicate storm; poison among good tickets)
    res = run_one(name, REDIS_URL, smoke=True)
    # Then no ticket is lost and every expectation held
    assert res.lost == 0, res.lost_ids
    assert res.ok, res.failures
    assert res.tickets_in > 0
