"""Charts for the staff pages, drawn on the server as SVG with matplotlib: no JavaScript, no
asset to vendor, and the same picture the owner's report can embed. Pages show them as images
(svg_data_uri), which the strict Content-Security-Policy allows."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache

from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# Distinguishable for colour-blind readers (Okabe–Ito), in order of use.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
_SVG_HEADER = re.compile(r"^.*?(?=<svg)", re.S)


def trend_chart_svg(
    days: Sequence[date],
    series: Mapping[str, Sequence[int]],
    *,
    title: str,
) -> str:
    """A line chart of daily counts (one line per series) as inline SVG that scales to its box.
    `title` becomes the SVG's accessible name."""
    frozen = tuple((label, tuple(values)) for label, values in series.items())
    return _cached_chart(tuple(days), frozen, title)


# Drawing costs tens of milliseconds a chart; a dashboard reloaded while its figures have not
# changed asks for the very same pictures again.
@lru_cache(maxsize=128)
def _cached_chart(
    days: tuple[date, ...],
    series: tuple[tuple[str, tuple[int, ...]], ...],
    title: str,
) -> str:
    # matplotlib's Figure (not pyplot) keeps no global state, so requests can draw concurrently.
    figure = Figure(figsize=(6.4, 2.6), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    for index, (label, values) in enumerate(series):
        axes.plot(
            days,  # type: ignore[arg-type]  # matplotlib's stubs leave out its date converters
            values,
            label=label,
            color=PALETTE[index % len(PALETTE)],
            linewidth=2,
            marker="o" if len(days) <= 14 else None,
            markersize=3,
        )
    axes.set_ylim(bottom=0)
    counts_locator = axes.yaxis.get_major_locator()
    if isinstance(counts_locator, MaxNLocator):  # a linear axis's AutoLocator is one
        counts_locator.set_params(integer=True)
    axes.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=7))
    axes.xaxis.set_major_formatter(DateFormatter("%d %b"))
    axes.grid(axis="y", color="#d9e0e2", linewidth=0.8)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.tick_params(labelsize=8, colors="#5b686d")
    if len(series) > 1:
        axes.legend(fontsize=8, frameon=False, loc="upper left", ncols=min(len(series), 4))
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = _SVG_HEADER.sub("", buffer.getvalue(), count=1)
    accessible = f'<svg role="img" aria-label="{_attribute(title)}" '
    return svg.replace("<svg ", accessible, 1)


def svg_data_uri(svg: str) -> str:
    """The SVG as a data: address for an <img>: the page's Content-Security-Policy forbids the
    inline styles matplotlib writes into an SVG embedded in the page, but an image is a
    document of its own."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _attribute(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )
