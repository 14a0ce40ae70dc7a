"""Bar charts as inline SVG, drawn on the server: no chart library, no CDN, nothing to fetch."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from markupsafe import Markup

BAR_H, GAP, LABEL_W, VALUE_W, WIDTH = 22, 6, 110, 70, 520


def bar_chart(title: str, items: list[tuple[str, float]], fmt: Callable[[float], str] = str,
              top: float | None = None) -> Markup:
    """Horizontal bars, one per (label, value); `top` fixes the scale (1.0 for rates)."""
    scale_top = top if top is not None else max([v for _, v in items] + [0]) or 1
    span = WIDTH - LABEL_W - VALUE_W
    height = len(items) * (BAR_H + GAP) + 30
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {height}" '
             f'width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="0" y="16" class="chart-title">{escape(title)}</text>']
    for i, (label, value) in enumerate(items):
        y = 26 + i * (BAR_H + GAP)
        w = max(0.0, min(1.0, value / scale_top)) * span
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + 15}" text-anchor="end" class="chart-label">'
                     f'{escape(label)}</text>')
        parts.append(f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}" class="chart-bar">'
                     f'<title>{escape(label)}: {escape(fmt(value))}</title></rect>')
        parts.append(f'<text x="{LABEL_W + w + 6:.1f}" y="{y + 15}" class="chart-value" '
                     f'data-label="{escape(label)}">{escape(fmt(value))}</text>')
    if not items:
        parts.append('<text x="0" y="44" class="chart-label">no calls</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def ms(value: float) -> str:
    return f"{value:.0f} ms"


def minutes(value: float) -> str:
    return f"{value / 60:.1f} min"
