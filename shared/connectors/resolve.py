"""A tenant's connectors checked at start against the settings, their header secrets read
from the environment. A problem is one line naming the connector and the field (the tenants
loader adds the tenant): a missing variable, plain http or a private address literal while
`PACELINE_ALLOW_PRIVATE_NETWORKS` is off."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shared.connectors.directory import Connector
from shared.connectors.spec import ENV_REF, PLACEHOLDER, ConnectorSpec
from shared.outbound import url_problem

_SETTING = "PACELINE_ALLOW_PRIVATE_NETWORKS"


def resolve_connectors(
    specs: Sequence[ConnectorSpec], env: Mapping[str, str], *, allow_private: bool
) -> tuple[Connector, ...]:
    """ValueError("connectors.NAME.field: why") on the first problem."""
    return tuple(_resolve(spec, env, allow_private) for spec in specs)


def _resolve(spec: ConnectorSpec, env: Mapping[str, str], allow_private: bool) -> Connector:
    where = f"connectors.{spec.name}.request"
    if spec.request.scheme != "https" and not allow_private:
        raise ValueError(f"{where}.url: must be https (plain http only while {_SETTING}=true)")
    problem = url_problem(PLACEHOLDER.sub("x", spec.request.url), allow_private)
    if problem is not None:
        raise ValueError(f"{where}.url: {problem}")
    headers: dict[str, str] = {}
    for name, value in spec.request.headers.items():
        for var in ENV_REF.findall(value):
            if not env.get(var):
                raise ValueError(f"{where}.headers.{name}: {var} is not set")
            if any(ord(c) < 0x20 or ord(c) == 0x7F for c in env[var]):
                raise ValueError(f"{where}.headers.{name}: {var} holds a control character")
        headers[name] = ENV_REF.sub(lambda m: env[m.group(1)], value)
    return Connector(spec, headers)


def secret_values(connectors: Mapping[str, Sequence[Connector]]) -> list[str]:
    """Every value a header took from the environment: replies and logs must never carry one."""
    found: list[str] = []
    for tenant_connectors in connectors.values():
        for connector in tenant_connectors:
            for name, template in connector.spec.request.headers.items():
                if ENV_REF.search(template):
                    found.append(connector.headers[name])
                    found += [m for m in _env_parts(template, connector.headers[name])]
    return found


def _env_parts(template: str, resolved: str) -> list[str]:
    """`Bearer ${TOKEN}` resolved to `Bearer abc`: also `abc` alone."""
    prefix, _, rest = template.partition("${")
    suffix = rest.split("}", 1)[1] if "}" in rest else ""
    if ENV_REF.search(suffix) or not resolved.startswith(prefix):
        return []
    end = len(resolved) - len(suffix) if suffix else len(resolved)
    return [resolved[len(prefix) : end]] if resolved.endswith(suffix) else []
