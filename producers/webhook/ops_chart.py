"""The ops page's chart: today's cumulative spend by hour against the even pace line, as SVG.

Server-rendered, no script: each spend point carries its value in `data-spent-micros` (what a
test or a screen reader reads) and a `<title>` tooltip; the last point is labelled in dollars.
"""

from __future__ import annotations

from html import escape

from shared.money import fmt_usd

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 16, 34
HOURS = 24


def spend_chart(series: list[tuple[int, int]], ceiling_micros: int, hour_now: float) -> str:
    """`series` is (hour, cumulative micros) from the day's start; the last item is now."""
    top_micros = max(ceiling_micros, max((v for _, v in series), default=0), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(hour: float) -> float:
        return LEFT + plot_w * min(max(hour, 0.0), HOURS) / HOURS

    def y(micros: int) -> float:
        return TOP + plot_h * (1 - micros / top_micros)

    # A completed hour's value is the spend at its end; the current hour's is the spend now.
    points = [(0.0, 0)] + [(float(h + 1), v) for h, v in series[:-1]]
    points.append((hour_now, series[-1][1]))
    parts = [
        f"<svg id='spend-chart' role='img' width='{WIDTH}' height='{HEIGHT}' "
        f"viewBox='0 0 {WIDTH} {HEIGHT}' xmlns='http://www.w3.org/2000/svg' "
        "aria-label='cumulative spend today against the even pace line'>",
        f"<rect x='{LEFT}' y='{TOP}' width='{plot_w}' height='{plot_h}' fill='#fff' "
        "stroke='#dde2e8'/>",
    ]
    for hour in range(0, HOURS + 1, 3):
        parts.append(
            f"<line x1='{x(hour):.1f}' y1='{TOP}' x2='{x(hour):.1f}' y2='{TOP + plot_h}' "
            "stroke='#eef1f4'/>"
            f"<text x='{x(hour):.1f}' y='{HEIGHT - 16}' text-anchor='middle'>{hour:02d}:00</text>"
        )
    for i in range(5):
        micros = top_micros * i // 4
        parts.append(
            f"<text x='{LEFT - 6}' y='{y(micros) + 4:.1f}' text-anchor='end'>"
            f"{escape(fmt_usd(micros))}</text>"
        )
    parts.append(
        f"<line id='pace-line' x1='{x(0):.1f}' y1='{y(0):.1f}' x2='{x(HOURS):.1f}' "
        f"y2='{y(ceiling_micros):.1f}' stroke='#8a94a3' stroke-dasharray='6 4' stroke-width='1.5' "
        f"data-ceiling-micros='{ceiling_micros}'><title>even pace to "
        f"{escape(fmt_usd(ceiling_micros))}</title></line>"
    )
    path = " ".join(f"{x(h):.1f},{y(v):.1f}" for h, v in points)
    parts.append(
        f"<polyline id='spend-line' points='{path}' fill='none' stroke='#3867d6' "
        "stroke-width='2.5'/>"
    )
    for h, v in points[1:]:
        parts.append(
            f"<circle class='spend-point' cx='{x(h):.1f}' cy='{y(v):.1f}' r='3.5' "
            f"fill='#3867d6' data-hour='{h:.2f}' data-spent-micros='{v}'>"
            f"<title>{h:05.2f} h: {escape(fmt_usd(v))}</title></circle>"
        )
    last_h, last_v = points[-1]
    anchor = "end" if last_h > HOURS * 0.75 else "start"
    dx = -8 if anchor == "end" else 8
    parts.append(
        f"<text id='spend-now' x='{x(last_h) + dx:.1f}' y='{y(last_v) - 8:.1f}' "
        f"text-anchor='{anchor}' style='fill:#1d2430;font-weight:bold' "
        f"data-spent-micros='{last_v}'>{escape(fmt_usd(last_v))} now</text>"
    )
    parts.append(
        f"<text x='{LEFT + 8}' y='{TOP + 14}' text-anchor='start'>— spend  - - pace line "
        f"(ceiling {escape(fmt_usd(ceiling_micros))})</text></svg>"
    )
    return "".join(parts)
