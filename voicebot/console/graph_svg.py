"""A stage's dialogue graph as an inline SVG: nodes in columns by distance from the entry
nodes, one arrow per (node, next node) pair with what takes it in the tooltip.  Routes through the
stage's `global` intents reach almost every node; they place nodes but are listed, not drawn.  Drawn on the
server from `dialogue.script.graph`, the same edges the validator and the policy use."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from voicebot.console.scripts_view import NodeView

BOX_W, BOX_H, COL_GAP, ROW_GAP, PAD = 160, 26, 70, 12, 10


def _layers(nodes: list[NodeView]) -> dict[str, int]:
    names = {n.name for n in nodes}
    depth: dict[str, int] = {}
    frontier = [n.name for n in nodes if n.root]
    level = 0
    while frontier:
        nxt = []
        for name in frontier:
            if name in depth:
                continue
            depth[name] = level
            node = next(n for n in nodes if n.name == name)
            nxt += [t for t, _ in node.routes + node.global_routes if t in names and t not in depth]
        frontier, level = nxt, level + 1
    last = max(depth.values(), default=-1) + 1
    for n in nodes:
        depth.setdefault(n.name, last)  # unreachable: a column of their own
    return depth


def stage_svg(stage: str, nodes: list[NodeView]) -> Markup:
    depth = _layers(nodes)
    columns: dict[int, list[str]] = {}
    for n in nodes:
        columns.setdefault(depth[n.name], []).append(n.name)
    pos = {name: (PAD + col * (BOX_W + COL_GAP), PAD + row * (BOX_H + ROW_GAP))
           for col, names in columns.items() for row, name in enumerate(names)}
    width = PAD * 2 + (max(columns) + 1) * (BOX_W + COL_GAP) if columns else 100
    height = PAD * 2 + max(len(v) for v in columns.values()) * (BOX_H + ROW_GAP) + 40 if columns else 60
    out = [f'<svg class="graph-svg" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="stage {escape(stage)} graph">',
           '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="6" markerHeight="6" '
           'orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" class="edge-head"/></marker></defs>']
    for n in nodes:
        x1, y1 = pos[n.name]
        for target, labels in n.routes:
            if target not in pos:
                continue
            x2, y2 = pos[target]
            back = depth[target] <= depth[n.name]
            sx, sy = x1 + BOX_W, y1 + BOX_H / 2
            tx, ty = (x2 + BOX_W / 2, y2 + BOX_H) if back else (x2, y2 + BOX_H / 2)
            if back:  # loops and returns curve below the boxes
                d = f"M{sx},{sy} C{sx + 40},{sy + 60} {tx},{ty + 50} {tx},{ty}"
            else:
                mid = (sx + tx) / 2
                d = f"M{sx},{sy} C{mid},{sy} {mid},{ty} {tx},{ty}"
            shown = ", ".join(labels)
            out.append(f'<path d="{d}" class="edge{" back" if back else ""}" marker-end="url(#arrow)">'
                       f'<title>{escape(n.name)} → {escape(target)}: {escape(shown)}</title></path>')
    for n in nodes:
        x, y = pos[n.name]
        cls = " ".join(c for c, on in (("root", n.root), ("terminal", n.terminal),
                                        ("unreachable", not n.reachable)) if on)
        label = n.name if len(n.name) <= 22 else n.name[:21] + "…"
        out.append(f'<g class="gnode {cls}" data-node="{escape(n.name)}"><title>{escape(n.name)}: '
                   f'{escape(n.say)}</title><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="5"/>'
                   f'<text x="{x + 8}" y="{y + 17}">{escape(label)}</text></g>')
    out.append("</svg>")
    return Markup("".join(out))
