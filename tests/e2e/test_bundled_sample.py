"""The bundled sample through the real worker and simulator: at least 80% answered without a
human, and every ticket labelled for a human reaches one."""

from __future__ import annotations

from pathlib import Path

from shared.data import load_sample
from shared.demo_store.tenants import write as write_demo_tenants
from shared.models import OutcomeStatus, Ticket
from tests.conftest import ROOT, SimulatorProcess, make_settings
from tests.helpers import import_demo_help_centre, wait_for, worker_intake
from workers.runtime import RunningWorker

DEMO_IDS = {p.stem for p in (ROOT / "shared" / "data" / "demo" / "kb").rglob("*.md")}


def test_bundled_sample_answered_and_labels_respected(
    namespace: str, simulator: SimulatorProcess, tmp_path: Path
) -> None:
    # The demo tenants file, its connectors on the simulator's order system, as `make run`
    root = simulator.base_url.removesuffix("/v1")
    tenants = write_demo_tenants(root, tmp_path / "tenants.toml")
    settings = make_settings(
        namespace, llm_base_url=simulator.base_url, llm_api_key="sk-t", tenants_file=tenants
    )
    sample = load_sample()
    expect = {t["ticket_id"]: t["expect"] for t in sample}
    import_demo_help_centre(settings)  # as `make run` does, through the same import code
    with RunningWorker(settings, threads=16) as worker:
        ctx = worker.ctx
        intake = worker_intake(worker)
        submitted = [intake.submit(Ticket.model_validate(doc)) for doc in sample]
        accepted = sum(1 for s in submitted if not s.duplicate)
        # The deliberate repeats in the sample are dropped at the door
        assert len(sample) - accepted == sum(1 for t in sample if "duplicate_of" in t)
        assert wait_for(lambda: ctx.outcomes.summary()["pending"] == 0, timeout_s=90)
        outcomes = {o.ticket_id: o for o in ctx.outcomes.iter_outcomes()}
    assert len(outcomes) == accepted
    answered = [o for o in outcomes.values() if o.status == OutcomeStatus.ANSWERED]
    assert len(answered) >= 0.8 * accepted
    should_escalate = [tid for tid, want in expect.items() if want == "escalated"]
    assert should_escalate
    for tid in should_escalate:
        assert outcomes[tid].status == OutcomeStatus.ESCALATED, (tid, outcomes[tid].reason)
    for o in answered:
        assert o.reply and o.cost_micros > 0
    # Answers cite the demo help centre; every cited id is one of its articles
    citing = [o for o in answered if o.articles]
    print(f"{len(citing)}/{len(answered)} answers cite an article")
    assert len(citing) >= 0.6 * len(answered)
    assert all(a in DEMO_IDS for o in citing for a in o.articles)
    # Order tickets read the requester's history through the tenant's connector, over HTTP
    looked_up = [o for o in outcomes.values() if "lookup_customer_history" in o.tools_used]
    print(f"{len(looked_up)} tickets read the order system through a connector")
    assert len(looked_up) >= 0.2 * accepted
    assert not any("denied:lookup_customer_history" in o.tools_used for o in answered)
