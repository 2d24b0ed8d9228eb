"""The agent's tools: what the model may call, bound to one ticket, arguments validated."""

from workers.agent.tools.toolbox import BoundTools, ToolBox, ToolOutcome

__all__ = ["BoundTools", "ToolBox", "ToolOutcome"]
