"""Tool definitions that several test modules send (one copy each, not one per module).

Modules whose assertions depend on a tool's exact wording (token counts, goldens) keep their own on
purpose; these are for tests that only need a realistic strict function tool.
"""

from __future__ import annotations

from typing import Any

WEATHER: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}
"""``get_weather(city)``, strict: the tool the reasoning, chaining and tool-loop tests call."""
