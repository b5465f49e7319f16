"""Plotly figures drawn from kb's JSON: pure functions, so tests can check them directly."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

LEFT = " (left)"
# The landing page's charts go without Plotly's toolbar: drawing it for each chart costs a
# fresh tab about 0.1 s, and a click selects or zooms without it.
NO_TOOLBAR = {"displayModeBar": False}
# Low truck factor is the risk: red for 0-1, amber for 2, green from 3 up.
TRUCK_FACTOR_SCALE = [(0.0, "#b2182b"), (0.34, "#ef8a62"), (0.67, "#fddbc7"), (1.0, "#1a9850")]
LOSS_SCALE = [(0.0, "#f7f7f7"), (0.5, "#f4a582"), (1.0, "#b2182b")]
SEVERITY_COLOURS = {
    "critical": "#b2182b",
    "high": "#ef8a62",
    "medium": "#fddbc7",
    "low": "#92c5de",
    None: "#bababa",
}


def person_label(name: str, departed: bool) -> str:
    """A person as a column of the heatmap: departed people are marked."""
    return name + LEFT if departed else name


def heatmap_figure(heat: dict[str, Any], leavers: list[str] | None = None) -> go.Figure:
    """Services × people, the share of each service's files a person authors."""
    columns = [
        person_label(name, gone)
        for name, gone in zip(heat["columns"], heat["departed"], strict=True)
    ]
    text = [[f"{v:.0%}" if v else "" for v in row] for row in heat["values"]]
    fig = go.Figure(
        go.Heatmap(
            z=heat["values"],
            x=columns,
            y=heat["rows"],
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            colorbar={"title": "share of files", "tickformat": ".0%"},
            hoverinfo="skip",
            xgap=1,
            ygap=1,
        )
    )
    # Plotly selects no heatmap cell; a transparent marker on each cell makes a click a
    # selection Streamlit returns (its x is the person).
    cells = [(x, y, v) for y, row in zip(heat["rows"], heat["values"], strict=True)
             for x, v in zip(columns, row, strict=True)]  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=[c[0] for c in cells],
            y=[c[1] for c in cells],
            customdata=[c[2] for c in cells],
            mode="markers",
            marker={"symbol": "square", "size": 30, "opacity": 0.01, "color": "#000"},
            hovertemplate="%{y} × %{x}: %{customdata:.0%} of the files<extra></extra>",
            showlegend=False,
            name="select",
        )
    )
    picked = set(leavers or [])
    shapes = []
    for i, (name, gone) in enumerate(zip(heat["columns"], heat["departed"], strict=True)):
        if gone or name in picked:
            # Departed: grey hatch over the column; a simulated leaver: a red outline.
            shapes.append(
                {
                    "type": "rect",
                    "xref": "x",
                    "yref": "paper",
                    "x0": i - 0.5,
                    "x1": i + 0.5,
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "#b2182b" if name in picked else "#888", "width": 2},
                    "fillcolor": "rgba(0,0,0,0)" if name in picked else "rgba(120,120,120,0.25)",
                }
            )
    fig.update_layout(
        shapes=shapes,
        xaxis={"title": "person (departed marked “(left)”)", "side": "top", "tickangle": -30},
        yaxis={"title": "service", "autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 90, "b": 10},
        height=max(260, 44 * len(heat["rows"]) + 140),
        clickmode="event+select",
    )
    return fig


def treemap_figure(tree: dict[str, Any], colour_by: str) -> go.Figure:
    """Repositories → directories → files sized by bytes, coloured by truck factor or loss."""
    nodes = tree["nodes"]
    if colour_by == "loss":
        colours = [n["share_lost"] for n in nodes]
        scale, cmin, cmax, title = LOSS_SCALE, 0.0, 1.0, "share lost"
    else:
        colours = [min(n["truck_factor"], 3) for n in nodes]
        scale, cmin, cmax, title = TRUCK_FACTOR_SCALE, 0, 3, "truck factor (3 = 3+)"
    custom = [
        [
            n["kind"],
            n["truck_factor"],
            n["files"],
            n["files"] - n["known"],
            n["lost"],
            ", ".join(n["authors"][:4]) or "no one here",
        ]
        for n in nodes
    ]
    fig = go.Figure(
        go.Treemap(
            ids=[n["id"] for n in nodes],
            labels=[n["label"] for n in nodes],
            parents=[n["parent"] for n in nodes],
            values=[n["size"] for n in nodes],
            branchvalues="total",
            customdata=custom,
            marker={
                "colors": colours,
                "colorscale": scale,
                "cmin": cmin,
                "cmax": cmax,
                "colorbar": {"title": title},
            },
            hovertemplate=(
                "<b>%{id}</b> (%{customdata[0]})<br>truck factor %{customdata[1]}"
                "<br>%{customdata[2]} files, %{customdata[3]} orphaned"
                "<br>lost with the leavers: %{customdata[4]}"
                "<br>known by: %{customdata[5]}<extra></extra>"
            ),
            # Two levels at a time; a click goes one level down. Drawing every file at once
            # was the landing page's dearest chart in a fresh tab (~0.4 s of 3.9 s on the demo).
            maxdepth=2,
        )
    )
    fig.update_layout(margin={"l": 0, "r": 0, "t": 10, "b": 0}, height=520)
    return fig


def history_figure(points: list[dict[str, Any]]) -> go.Figure:
    """The truck factor (steps) and the orphaned share (line, right axis) month by month."""
    months = [p["month"] for p in points]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=months,
            y=[p["truck_factor"] for p in points],
            name="truck factor",
            mode="lines+markers",
            line={"shape": "hv", "color": "#2166ac"},
            customdata=[", ".join(p["truck_factor_authors"]) or "—" for p in points],
            hovertemplate="%{x}: truck factor %{y} (%{customdata})<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=months,
            y=[p["orphaned_share"] for p in points],
            name="orphaned files",
            mode="lines",
            yaxis="y2",
            line={"color": "#b2182b"},
            hovertemplate="%{x}: %{y:.0%} of the files orphaned<extra></extra>",
        )
    )
    fig.update_layout(
        yaxis={"title": "truck factor", "rangemode": "tozero", "dtick": 1},
        yaxis2={
            "title": "orphaned share",
            "overlaying": "y",
            "side": "right",
            "tickformat": ".0%",
            "rangemode": "tozero",
        },
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=320,
    )
    return fig


def timeline_figure(incidents: list[dict[str, Any]]) -> go.Figure:
    """Incidents on a time axis, one row per service, coloured by severity."""
    fig = go.Figure()
    for severity in ("critical", "high", "medium", "low", None):
        xs, ys, ids, sizes = [], [], [], []
        for inc in incidents:
            if inc["severity"] != severity or not inc["started_at"]:
                continue
            for service in inc["services"] or ["(no service)"]:
                xs.append(inc["started_at"])
                ys.append(service)
                ids.append([inc["external_id"], inc["title"], inc["minutes"] or 0, inc["id"]])
                sizes.append(12 + min((inc["minutes"] or 0) / 10, 20))
        if not xs:
            continue
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name=severity or "unknown",
                marker={"size": sizes, "color": SEVERITY_COLOURS[severity], "line": {"width": 1}},
                customdata=ids,
                hovertemplate="%{customdata[3]}: %{customdata[1]}<br>%{x} · %{customdata[2]} min"
                "<extra></extra>",
            )
        )
    fig.update_layout(
        xaxis={"title": "started"},
        yaxis={"title": "service"},
        legend={"title": "severity"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=max(240, 50 * len({s for i in incidents for s in i["services"]}) + 120),
        clickmode="event+select",
    )
    return fig


def map_dot(dot: str, hidden: list[list[Any]]) -> str:
    """kb's DOT of the service map, with each hidden coupling (services that change together
    with no declared dependency) added as a dashed red edge."""
    body = dot.rstrip().removesuffix("}")
    lines = [body.rstrip()]
    for a, b, support in hidden:
        lines.append(
            f'  {_dot_quote(a)} -> {_dot_quote(b)} [style=dashed, color="#b2182b", '
            f'fontcolor="#b2182b", dir=none, constraint=false, label="changes with ({support})"];'
        )
    return "\n".join(lines) + "\n}\n"


def _dot_quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'
