"""An icicle/flame tree from the call graph: ``{name, object, value, children}`` nodes.

The calls table holds one edge per caller/callee pair with the inclusive cost of all those calls, not
whole stacks, so a function called from several places has its subtree split between its callers in
proportion to each edge's cost (what gprof2dot and KCachegrind's call graphs do). The root is the
program total; its children are the functions nobody calls (``main``'s callers, ``_start``, threads),
each with its inclusive cost (a profile without a call graph: every function, by self cost). Under a
node, children are its callees; what the callees do not explain is ``(self)``. A callee already on
the path (recursion) is cut and its cost stays in ``(self)``; callees below ``min_share`` of the total
are merged into ``(other)``; nothing goes below ``max_depth``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from analysis.insights.figures import AsDict, Figure, as_number, count, program_total, resolve_event
from analysis.profiles.model import Profile

ROOT = "all"


@dataclass(frozen=True)
class Flame(AsDict):
    event: str
    kind: str
    total: Figure
    tree: dict
    notes: tuple[str, ...] = ()


def flame(
    profile: Profile, *, event: str | None = None, max_depth: int = 12, min_share: float = 0.005
) -> Flame:
    meta = profile.meta
    name = resolve_event(meta, event)
    total = as_number(program_total(meta, profile.functions, name)) or 0
    graph = _Graph(profile, name, max_depth, min_share * total)
    roots_found = graph.roots()
    kept = [(key, value) for key, value in roots_found if value >= graph.min_value]
    small = sum(value for key, value in roots_found if value < graph.min_value)
    children = [graph.node(key, value, frozenset([key]), 1) for key, value in kept]
    notes = [] if graph.edges else ["the profile has no call graph: the tree has one level"]
    roots = sum(child["value"] for child in children) + small
    if roots > total:
        notes.append(
            f"the roots' inclusive {name} exceed the sum of self costs by {roots - total} "
            "(callgrind counts a few instructions outside any function); the root shows their sum"
        )
    tree = _with_rest({"name": ROOT, "object": "", "value": max(total, roots)}, children, small)
    total_figure = count(meta, name, total, where=f"sum of self {name}")
    return Flame(name, meta.event(name).kind, total_figure, tree, tuple(notes))


class _Graph:
    def __init__(self, profile: Profile, event: str, max_depth: int, min_value: float) -> None:
        functions = profile.functions
        keys = list(zip(functions.function, functions.object, strict=True))
        self.inclusive = dict(zip(keys, functions[f"incl_{event}"].map(as_number), strict=True))
        self.edges: dict[tuple, list[tuple[tuple, int]]] = defaultdict(list)
        self.called: set[tuple] = set()
        calls = profile.calls
        if not calls.empty and event in calls:
            grouped = calls.groupby(["caller", "caller_object", "callee", "callee_object"], as_index=False)[
                event
            ].sum()
            for caller, caller_obj, callee, callee_obj, cost in grouped.itertuples(index=False):
                if (caller, caller_obj) == (callee, callee_obj) or not cost:
                    continue
                self.edges[(caller, caller_obj)].append(((callee, callee_obj), int(cost)))
                self.called.add((callee, callee_obj))
        for edges in self.edges.values():
            edges.sort(key=lambda edge: -edge[1])
        self.max_depth = max_depth
        self.min_value = min_value

    def roots(self) -> list[tuple[tuple, int]]:
        found = [(key, value or 0) for key, value in self.inclusive.items() if key not in self.called]
        return sorted((pair for pair in found if pair[1] > 0), key=lambda pair: -pair[1])

    def node(self, key: tuple, value: int, path: frozenset, depth: int) -> dict:
        node = {"name": key[0], "object": key[1], "value": value}
        if depth >= self.max_depth or key not in self.edges:
            return node
        inclusive = self.inclusive.get(key) or 0
        scale = value / inclusive if inclusive else 0.0
        children, small = [], 0
        for callee, cost in self.edges[key]:
            if callee in path:
                continue
            share = round(cost * scale)
            if share < self.min_value or share == 0:
                small += share
                continue
            children.append(self.node(callee, share, path | {callee}, depth + 1))
        return _with_rest(node, children, small) if children or small else node


def _with_rest(node: dict, children: list[dict], small: int) -> dict:
    """Children that add up to the node: the callees, then (other) and (self) for the rest."""
    if small:
        children.append({"name": "(other)", "object": "", "value": small})
    rest = node["value"] - sum(child["value"] for child in children)
    if rest > 0:
        children.append({"name": "(self)", "object": node["object"], "value": rest})
    node["children"] = children
    return node
