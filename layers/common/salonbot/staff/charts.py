"""Charts for the console's dashboard: inline SVG written on the server (no script, no
chart library), each a bar per day with an optional line (the daily budget), labelled
for screen readers by its title and a one-line summary."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

WIDTH, HEIGHT, PAD = 600, 160, 28


def _number(value: float) -> str:
    return f"{value:.4g}" if value < 1000 else f"{value:,.0f}"


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    line: tuple[str, float] | None = None,
    summary: str = "",
    percent: bool = False,
) -> str:
    """Bars per label (one colour per series, side by side) and a horizontal line."""
    values = [v for _, points in series for v in points]
    top = max([*values, line[1] if line else 0.0, 0.0])
    if percent or top <= 0:
        top = max(top, 1.0)
    count = max(len(labels), 1)
    slot = (WIDTH - PAD) / count
    bar = max(slot / (len(series) + 0.5), 1.0)
    usable = HEIGHT - PAD
    parts = [
        f'<figure class="chart"><figcaption>{escape(title)}</figcaption>',
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}. '
        f'{escape(summary)}" preserveAspectRatio="none">',
        f'<line x1="{PAD}" y1="{usable}" x2="{WIDTH}" y2="{usable}" class="axis"/>',
    ]
    for index, (name, points) in enumerate(series):
        for day, value in enumerate(points):
            height = usable * (value / top)
            x = PAD + day * slot + index * bar
            shown = f"{value:.0%}" if percent else _number(value)
            parts.append(
                f'<rect class="s{index}" x="{x:.1f}" y="{usable - height:.1f}" '
                f'width="{bar * 0.9:.1f}" height="{height:.1f}">'
                f"<title>{escape(labels[day])} {escape(name)}: {shown}</title></rect>"
            )
    if line is not None:
        name, value = line
        y = usable * (1 - value / top)
        parts.append(
            f'<line class="limit" x1="{PAD}" y1="{y:.1f}" x2="{WIDTH}" y2="{y:.1f}">'
            f"<title>{escape(name)}: {_number(value)}</title></line>"
        )
    parts.append(
        f'<text x="2" y="12" class="tick">{_number(top) if not percent else "100%"}</text>'
    )
    if labels:
        parts.append(f'<text x="{PAD}" y="{HEIGHT - 6}" class="tick">{escape(labels[0])}</text>')
        parts.append(
            f'<text x="{WIDTH - 2}" y="{HEIGHT - 6}" class="tick end">{escape(labels[-1])}</text>'
        )
    parts.append("</svg>")
    legend = [name for name, _ in series] + ([line[0]] if line else [])
    if len(legend) > 1:
        keys = "".join(
            f'<li><span class="key s{i}"></span>{escape(n)}</li>' for i, n in enumerate(legend)
        )
        parts.append(f'<ul class="legend">{keys}</ul>')
    if summary:
        parts.append(f'<p class="summary">{escape(summary)}</p>')
    parts.append("</figure>")
    return "".join(parts)
