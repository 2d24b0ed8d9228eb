"""The simulator's fault and limit settings, changeable at runtime through `POST /_sim/faults`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any

from shared.errors import ConfigError as ConfigError  # re-exported: callers import it here


class ErrorKind(StrEnum):
    RATE_LIMIT = "rate_limit"
    INSUFFICIENT_QUOTA = "insufficient_quota"
    SERVER_ERROR = "server_error"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    CONTEXT_LENGTH = "context_length"


class Dialect(StrEnum):
    """Whose answers the simulator imitates: OpenAI's, or an OpenAI-compatible server's
    (shared/simulator/dialects.py lists what each does differently)."""

    OPENAI = "openai"
    VLLM = "vllm"
    OLLAMA = "ollama"
    LITELLM = "litellm"


# "Large" defaults: a benchmark at full speed never meets the limiter unless it asks to.
DEFAULT_RPM = 1_000_000
DEFAULT_TPM = 1_000_000_000


@dataclass(frozen=True, slots=True)
class SimConfig:
    latency_ms: int = 0
    error_rate: float = 0.0
    error_kind: ErrorKind = ErrorKind.SERVER_ERROR
    seed: int = 0
    retry_after_ms: int = 1000
    timeout_s: float = 60.0
    rpm: int = DEFAULT_RPM
    tpm: int = DEFAULT_TPM
    dialect: Dialect = Dialect.OPENAI
    # When set, requests must carry this key (`Authorization: Bearer`, or Azure's `api-key`).
    api_key: str = ""
    # Names served besides the built-in models (comma separated): gateway aliases and Azure
    # deployments. Any other model or deployment is answered 404, as the real ones do.
    deployments: str = ""

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ConfigError("latency_ms must be >= 0")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ConfigError("error_rate must be between 0 and 1")
        if self.retry_after_ms < 0:
            raise ConfigError("retry_after_ms must be >= 0")
        if self.timeout_s < 0:
            raise ConfigError("timeout_s must be >= 0")
        if self.rpm < 1 or self.tpm < 1:
            raise ConfigError("rpm and tpm must be >= 1")

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["error_kind"] = self.error_kind.value
        doc["dialect"] = self.dialect.value
        return doc

    def deployment_names(self) -> tuple[str, ...]:
        return tuple(d.strip() for d in self.deployments.split(",") if d.strip())

    def updated(self, changes: dict[str, Any]) -> SimConfig:
        """A copy with `changes` applied; unknown names and bad values raise ConfigError."""
        known = {f.name: f for f in fields(self)}
        coerced: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise ConfigError(f"unknown fault setting: {name}")
            coerced[name] = _coerce(name, value)
        return replace(self, **coerced)


def _coerce(name: str, value: Any) -> Any:
    try:
        if name == "error_kind":
            return ErrorKind(ErrorKind.SERVER_ERROR if value is None else str(value))
        if name == "dialect":
            return Dialect(Dialect.OPENAI if value is None else str(value))
        if name in ("api_key", "deployments"):
            if not isinstance(value, str):
                raise TypeError
            return value
        if isinstance(value, bool) or value is None:
            raise TypeError
        if name in ("error_rate", "timeout_s"):
            return float(value)
        if isinstance(value, float) and not value.is_integer():
            raise TypeError
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid value for {name}") from None
