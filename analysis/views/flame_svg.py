"""The icicle chart of ``insights.flame``'s tree, laid out on the server as SVG rectangles.

Pure layout: each node's width is its value over the root's, children side by side under their parent,
one row per depth. A child never reaches past its parent (callgrind's startup frames can exceed the
program total by a few instructions). Nodes narrower than ``MIN_WIDTH`` are not drawn; their cost stays
visible in the parent's width.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 1000.0
ROW = 22
MIN_WIDTH = 0.8
CHAR_WIDTH = 6.6  # at the 11px font of profiles.css
PALETTE = 6


@dataclass(frozen=True)
class Box:
    x: float
    y: int
    width: float
    name: str
    object: str
    value: int
    share: float
    label: str
    tone: int
    kind: str  # "function", "self" or "other"
    event: str

    @property
    def text_x(self) -> float:
        return self.x + 3

    @property
    def tooltip(self) -> str:
        where = f" ({self.object})" if self.object else ""
        return f"{self.name}{where}: {self.value:,} {self.event} ({self.share:.1%} of the total)"


@dataclass(frozen=True)
class Icicle:
    boxes: tuple[Box, ...]
    width: float
    height: int


def icicle(tree: dict, *, event: str = "", width: float = WIDTH) -> Icicle:
    total = tree.get("value") or 0
    boxes: list[Box] = []
    if total > 0:
        _place(tree, 0.0, width, 0, (total, width, event), boxes)
    depth = max((box.y // ROW for box in boxes), default=-1) + 1
    return Icicle(tuple(boxes), width, depth * ROW)


def _place(node: dict, x: float, span: float, depth: int, scale: tuple[int, float, str], boxes: list) -> None:
    if span < MIN_WIDTH:
        return
    total, width, event = scale
    name = str(node.get("name", ""))
    value = node.get("value") or 0
    boxes.append(
        Box(
            x=round(x, 2),
            y=depth * ROW,
            width=round(span, 2),
            name=name,
            object=str(node.get("object", "")),
            value=value,
            share=value / total,
            label=truncated(name, span),
            tone=sum(map(ord, name)) % PALETTE,
            kind="self" if name == "(self)" else "other" if name == "(other)" else "function",
            event=event,
        )
    )
    end, cursor = x + span, x
    for child in node.get("children") or ():
        child_span = min((child.get("value") or 0) / total * width, end - cursor)
        _place(child, cursor, child_span, depth + 1, scale, boxes)
        cursor += child_span


def truncated(name: str, span: float) -> str:
    fits = int((span - 6) / CHAR_WIDTH)
    if fits >= len(name):
        return name
    return name[: fits - 1] + "…" if fits >= 3 else ""
