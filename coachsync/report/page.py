"""The report's HTML: the shipped template, rendered in Jinja2's sandbox with autoescaping.

Calendar text (titles, names, reasons) reaches the page only as template
variables, escaped on the way out; it never becomes template code. The charts
are the one thing marked safe: SVG that matplotlib drew from numbers and dates.
"""

from __future__ import annotations

from datetime import datetime

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from .charts import chart_drawer
from .data import ReportData

TEMPLATE = "report.html.j2"


def _environment() -> SandboxedEnvironment:
    environment = SandboxedEnvironment(
        loader=PackageLoader("coachsync.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = _when
    environment.filters["day"] = _day
    return environment


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def _day(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d")


def render(data: ReportData) -> str:
    with chart_drawer() as draw:
        charts = {
            client.anchor: {
                name: Markup(svg)  # drawn by matplotlib from numbers and dates; no calendar text
                for name, svg in draw(client, data.since, data.until, data.now).items()
            }
            for client in data.clients
        }
    return _environment().get_template(TEMPLATE).render(report=data, charts=charts)
