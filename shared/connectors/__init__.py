"""Data connectors: each tenant's own HTTP services (orders, accounts) offered to its agent as
tools. `spec` is their shape in the tenants file, `resolve` checks them at start and reads the
secrets their headers name, `call` sends one request through the outbound guard, `directory`
holds every tenant's connectors and calls only the ticket's own tenant's.
"""

from shared.connectors.call import ConnectorCaller, ConnectorResult, Requester
from shared.connectors.directory import Connector, ConnectorDirectory
from shared.connectors.spec import ConnectorSpec, check_connectors

__all__ = [
    "Connector",
    "ConnectorCaller",
    "ConnectorDirectory",
    "ConnectorResult",
    "ConnectorSpec",
    "Requester",
    "check_connectors",
]
