"""The report's charts, drawn by matplotlib as SVG to be inlined in the page.

matplotlib (imported only here, only when a report is made) draws on its SVG
backend, with no pyplot and no GUI. Text stays text (`svg.fonttype: none`):
the browser draws it in its own sans-serif font, so the file embeds no font,
names no font file, and the labels can be found, read aloud and copied; as
paths ('path') every label would be hundreds of bytes of outlines and unreadable
to a screen reader. Colours are the Okabe-Ito palette, readable with every
common colour-vision deficiency, and each state also has a shape of its own,
so the charts read in black and white print too; the key to each is in the
page beside it. No calendar text is drawn in a chart: titles and names appear
only in the HTML, escaped by the template.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import matplotlib

matplotlib.use("svg")

from matplotlib import rc_context  # noqa: E402  (the backend is chosen first)
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.dates import date2num  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FixedFormatter, FixedLocator  # noqa: E402

from ..attendance import SessionState  # noqa: E402
from .data import AllowancePoint, ClientReport  # noqa: E402

# Okabe & Ito, "Color Universal Design" (2008).
BLUE = "#0072B2"
ORANGE = "#E69F00"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREEN = "#009E73"
GREY = "#767676"
BLACK = "#000000"

STYLE: dict[str, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": GREY,
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "svg.hashsalt": "coachsync",  # the same ids for the same chart on every run; made unique per chart below
}
WIDTH, HEIGHT = 7.0, 2.2  # inches: the page scales the SVG to its width
# The SVG's own metadata names matplotlib's web site and the date; the page needs neither.
NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}

# What each session state looks like on the timeline: marker and colour (the page's key says the same).
STATE_LOOK = {
    SessionState.HELD: ("o", BLUE),
    SessionState.MOVED: ("s", ORANGE),
    SessionState.CANCELLED: ("X", VERMILLION),
    SessionState.NO_SHOW: ("v", PURPLE),
    SessionState.UPCOMING: ("o", GREY),
}


@contextmanager
def chart_drawer() -> Iterator[Callable[[ClientReport, datetime, datetime, datetime], dict[str, str]]]:
    """Draws each client's four charts as inline SVG, by name, with ids unique to the client and chart.

    One figure per kind of chart serves every client in turn: creating matplotlib's axes and
    their ticks anew costs more than drawing, and a report of 50 clients draws 200 charts.
    """
    style: Any = STYLE  # matplotlib types its keys as literals; these are checked at run time
    with rc_context(style):
        canvases = {name: _Canvas() for name in ("timeline", "notice", "counts", "cadence")}

        def draw(report: ClientReport, since: datetime, until: datetime, now: datetime) -> dict[str, str]:
            charts = {
                "timeline": _timeline(canvases["timeline"], report, since, until, now),
                "notice": _notice(canvases["notice"], report, since, now),
                "counts": _counts(canvases["counts"], report, since, now),
                "cadence": _cadence(canvases["cadence"], report, since, now),
            }
            return {name: _inline(svg, f"{report.anchor}-{name}") for name, svg in charts.items()}

        yield draw


# --- the charts ---


def _timeline(canvas: _Canvas, report: ClientReport, since: datetime, until: datetime, now: datetime) -> str:
    figure, axes = canvas.fresh()
    hours = [_hour(p.start) for p in report.timeline] + [_hour(p.moved_to) for p in report.timeline if p.moved_to]
    for state, (marker, colour) in STATE_LOOK.items():
        for excused in (False, True):
            points = [p for p in report.timeline if p.state is state and p.excused is excused]
            if not points:
                continue
            hollow = excused or state is SessionState.UPCOMING
            axes.scatter(
                [_x(p.start) for p in points],
                [_hour(p.start) for p in points],
                marker=marker,
                s=36,
                facecolors="white" if hollow else colour,
                edgecolors=colour,
                linewidths=1.4,
                zorder=3,
            )
    for point in report.timeline:
        if point.moved_to is None:
            continue
        axes.annotate(
            "",
            xy=(_x(point.moved_to), _hour(point.moved_to)),
            xytext=(_x(point.start), _hour(point.start)),
            arrowprops={
                "arrowstyle": "->",
                "color": ORANGE,
                "linestyle": ":" if point.excused else "-",
                "linewidth": 1.2,
                "shrinkA": 4,
                "shrinkB": 4,
            },
            zorder=2,
        )
    _today(axes, now)
    _date_axis(axes, since, until)
    low, high = (min(hours), max(hours)) if hours else (9.0, 17.0)
    first, last = int(low) - 1, int(high) + 2
    step = max(1, (last - first) // 4)
    ticks = list(range(first, last + 1, step))
    axes.set_ylim(last, first)  # mornings at the top, as in a calendar
    _fixed(axes, "y", ticks, [f"{t % 24:02d}:00" for t in ticks])
    axes.set_ylabel("time of day")
    return _svg(figure)


def _notice(canvas: _Canvas, report: ClientReport, since: datetime, now: datetime) -> str:
    figure, axes = canvas.fresh()
    threshold = report.notice_threshold
    top = max(3 * threshold, 1.0)
    highest = max((p.notice_hours for p in report.notice), default=0.0)
    top = min(max(top, highest * 1.1), 10 * max(threshold, 1.0))
    for late, marker, colour in ((False, "o", BLUE), (True, "^", VERMILLION)):
        for counts in (True, False):
            points = [p for p in report.notice if p.late is late and p.counts is counts]
            if not points:
                continue
            axes.vlines(
                [_x(p.changed_at) for p in points],
                0,
                [min(p.notice_hours, top) for p in points],
                colors=colour,
                linewidth=1.2,
                zorder=2,
            )
            axes.scatter(
                [_x(p.changed_at) for p in points],
                [min(p.notice_hours, top) for p in points],
                marker=marker,
                s=36,
                facecolors=colour if counts else "white",
                edgecolors=colour,
                linewidths=1.4,
                zorder=3,
            )
    axes.axhline(threshold, color=BLACK, linestyle="--", linewidth=1)
    axes.text(_x(since), threshold, f" notice period: {threshold:g} h", va="bottom", fontsize=8)
    _date_axis(axes, since, now)
    axes.set_ylim(0, top)
    ticks = _steps(top)
    _fixed(axes, "y", ticks, [f"{t:g} h" for t in ticks])
    axes.set_ylabel("notice given")
    return _svg(figure)


def _counts(canvas: _Canvas, report: ClientReport, since: datetime, now: datetime) -> str:
    figure, axes = canvas.fresh()
    for span in report.pauses:
        axes.axvspan(_x(span.start), _x(span.end), facecolor="#EEEEEE", hatch="//", edgecolor=GREY, linewidth=0)
        axes.text(_x(span.start), report.allowance + 0.6, f" {span.label}", fontsize=8, va="bottom")
    for moment in report.revisits:
        axes.axvline(_x(moment), color=GREEN, linestyle="-.", linewidth=1.2)
        axes.text(_x(moment), 0.1, " revisited", color=BLACK, fontsize=8, rotation=90, va="bottom")
    for start, points, end in _periods(report, since, now):
        xs = [_x(start)] + [_x(p.at) for p in points] + [_x(end)]
        ys = [0] + [p.used for p in points] + [points[-1].used if points else 0]
        axes.step(xs, ys, where="post", color=BLUE, linewidth=1.4)
    for over in (False, True):
        points = [p for p in report.counts if p.over is over]
        if points:
            axes.scatter(
                [_x(p.at) for p in points],
                [p.used for p in points],
                marker="D" if over else "o",
                s=30,
                color=VERMILLION if over else BLUE,
                zorder=3,
            )
    axes.axhline(report.allowance, color=BLACK, linestyle="--", linewidth=1)
    axes.text(_x(since), report.allowance, f" allowance: {report.allowance}", va="bottom", fontsize=8)
    _date_axis(axes, since, now)
    top = max([report.allowance + 1] + [p.used for p in report.counts]) + 0.8
    axes.set_ylim(0, top)
    ticks = list(range(0, int(top) + 1, max(1, int(top) // 4)))
    _fixed(axes, "y", ticks, [str(t) for t in ticks])
    axes.set_ylabel("used this period")
    return _svg(figure)


def _cadence(canvas: _Canvas, report: ClientReport, since: datetime, now: datetime) -> str:
    figure, axes = canvas.fresh()
    if report.gaps:
        axes.plot(
            [_x(g.session) for g in report.gaps],
            [g.days for g in report.gaps],
            marker="o",
            color=BLUE,
            linewidth=1,
            markersize=5,
        )
    agreed = report.cadence_days
    if agreed is not None:
        axes.axhline(agreed, color=BLACK, linestyle="--", linewidth=1)
        axes.text(_x(since), agreed, f" agreed: every {agreed} days", va="bottom", fontsize=8)
    _date_axis(axes, since, now)
    top = max([g.days for g in report.gaps] + [agreed or 7]) * 1.25
    axes.set_ylim(0, top)
    ticks = _steps(top)
    _fixed(axes, "y", ticks, [f"{t:g} d" for t in ticks])
    axes.set_ylabel("days since the last")
    return _svg(figure)


# --- shared pieces ---


class _Canvas:
    """A figure with one axes, cleared of the last client's marks before the next client's."""

    def __init__(self) -> None:
        self.figure = Figure(figsize=(WIDTH, HEIGHT))
        self.axes = self.figure.add_subplot()

    def fresh(self) -> tuple[Figure, Axes]:
        axes = self.axes
        for artist in [*axes.lines, *axes.collections, *axes.patches, *axes.texts, *axes.artists]:
            artist.remove()
        axes.set_ylabel("")
        return self.figure, axes


def _svg(figure: Figure) -> str:
    figure.subplots_adjust(left=0.11, right=0.98, top=0.95, bottom=0.14)
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata=NO_METADATA)
    return out.getvalue()


def _x(moment: datetime) -> float:
    """A local time on the date axis: its wall-clock reading, so days line up with the coach's."""
    return float(date2num(moment.replace(tzinfo=None)))


def _hour(moment: datetime) -> float:
    return moment.hour + moment.minute / 60


def _today(axes: Axes, now: datetime) -> None:
    axes.axvline(_x(now), color=GREY, linestyle=":", linewidth=1)
    axes.text(_x(now), axes.get_ylim()[0], " today", color=GREY, fontsize=8, va="top")


def _date_axis(axes: Axes, start: datetime, end: datetime) -> None:
    """Month ticks (every week or two when the span is short), computed here: matplotlib's date locators cost more."""
    axes.set_xlim(_x(start) - 1, _x(end) + 1)
    days = (end - start).days
    if days <= 70:
        first = start.replace(hour=0, minute=0, second=0, microsecond=0)
        step = 7 if days <= 35 else 14
        ticks = [first + timedelta(days=step * n) for n in range(days // step + 1)]
        _fixed(axes, "x", [_x(t) for t in ticks], [t.strftime("%d %b") for t in ticks])
        return
    months = list(_month_starts(start, end))
    step = max(1, len(months) // 8)
    shown = months[::step]
    labels = [m.strftime("%b %Y") if m.month == 1 or i == 0 else m.strftime("%b") for i, m in enumerate(shown)]
    _fixed(axes, "x", [_x(m) for m in shown], labels)


def _month_starts(start: datetime, end: datetime) -> Iterator[datetime]:
    month = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while month <= end:
        if month >= start:
            yield month
        year, index = divmod(month.year * 12 + month.month, 12)  # the next month, as (year, 0-based month)
        month = month.replace(year=year, month=index + 1)


def _fixed(axes: Axes, which: str, ticks: Sequence[float], labels: Sequence[str]) -> None:
    axis = axes.xaxis if which == "x" else axes.yaxis
    axis.set_major_locator(FixedLocator(list(ticks)))
    axis.set_major_formatter(FixedFormatter(list(labels)))


def _steps(top: float) -> list[float]:
    """Three to five round tick values from 0 to `top`."""
    for step in (1, 2, 5, 10, 12, 24, 48, 72, 96, 168, 336, 720):
        if top / step <= 5:
            return [step * n for n in range(int(top // step) + 1)]
    return [0, top]


def _periods(
    report: ClientReport, since: datetime, now: datetime
) -> Iterator[tuple[datetime, list[AllowancePoint], datetime]]:
    """Each allowance period shown: its start (not before `since`), the changes in it, its end."""
    starts = sorted({p.period_start for p in report.counts})
    for index, start in enumerate(starts):
        points = [p for p in report.counts if p.period_start == start]
        end = starts[index + 1] if index + 1 < len(starts) else now
        yield max(start, since), points, end


_ROOT = re.compile(r"<svg\b[^>]*>")
# An id, and the two ways matplotlib refers to one: href="#…" and url(#…).
_REFERENCE = re.compile(r'(\bid="|href="#|url\(#)([^")]+)')


def _inline(svg: str, prefix: str) -> str:
    """matplotlib's SVG file as an element of the page: no XML prolog or DOCTYPE (which names the
    W3C's DTD), no namespace declarations (HTML knows SVG's), sized by the page, and every id made
    unique to this chart: matplotlib names groups `figure_1`, `axes_1`… in every file alike."""
    svg = svg[svg.index("<svg") :]
    root = _ROOT.search(svg)
    assert root is not None  # matplotlib always writes one
    view_box = re.search(r'viewBox="([^"]+)"', root.group(0))
    assert view_box is not None
    svg = f'<svg viewBox="{view_box.group(1)}" role="img" aria-labelledby="{prefix}-summary">' + svg[root.end() :]
    return _REFERENCE.sub(lambda found: f"{found.group(1)}{prefix}-{found.group(2)}", svg)
