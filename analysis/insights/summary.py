"""The few facts about a profile that are stored with it and listed without opening it."""

from __future__ import annotations

from typing import Any

from analysis.insights.figures import primary_event
from analysis.insights.hotspots import hotspots
from analysis.profiles.model import Profile

TOP = 5


def summary(profile: Profile) -> dict[str, Any]:
    meta = profile.meta
    event = primary_event(meta)
    top = hotspots(profile, limit=TOP).rows if event else ()
    return {
        "tool": meta.tool,
        "command": meta.command,
        "events": [
            {"name": name, "canonical": meta.event(name).canonical, "kind": meta.event(name).kind}
            for name in meta.events
        ],
        "totals": {name: int(value) for name, value in meta.totals.items()},
        "event": event,
        "function_count": int(len(profile.functions)),
        "top": [
            {
                "function": row.function,
                "object": row.object,
                "self": row.self.value,
                "share": row.self_share.value,
                "kind": row.self.kind,
            }
            for row in top
        ],
        "notes": list(meta.notes),
    }
