"""The scheduler: pace the day's ceiling, release parked work by lane, alerts (one leader)."""

from workers.scheduler.alerts import Alert, Alerts
from workers.scheduler.leader import LeaderLease
from workers.scheduler.scheduler import Scheduler, TickReport
from workers.scheduler.velocity import SpendVelocity, Spike

__all__ = [
    "Alert",
    "Alerts",
    "LeaderLease",
    "Scheduler",
    "SpendVelocity",
    "Spike",
    "TickReport",
]
