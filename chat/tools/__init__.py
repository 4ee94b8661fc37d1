"""The assistant's tenant-scoped tools (see ``chat.tools.base``); importing this package registers them."""

from chat.tools import account, automation, costs, knowledge, profiles, worksets  # noqa: F401 - registration
from chat.tools.base import (
    MAX_ITEMS,
    MAX_RESULT_BYTES,
    REGISTRY,
    Tool,
    ToolContext,
    ToolError,
    ToolResult,
    call_tool,
)

__all__ = [
    "MAX_ITEMS",
    "MAX_RESULT_BYTES",
    "REGISTRY",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "call_tool",
]
