"""Inline SVG charts: deterministic drawings, escaped labels, sensible empty cases."""

from __future__ import annotations

import datetime as dt

import numpy as np

from forensics.report import svg


def _intra_over_inter(pos: np.ndarray) -> float:
    d = np.linalg.norm(pos[:, None] - pos[None, :], axis=2)
    group = np.arange(len(pos)) < len(pos) // 2
    same = group[:, None] == group[None, :]
    off_diagonal = ~np.eye(len(pos), dtype=bool)
    return d[same & off_diagonal].mean() / d[~same].mean()


def test_force_layout_is_deterministic_and_pulls_linked_nodes_together():
    # two 5-cliques: the layout makes each clique tighter relative to the gap between them
    # than on the starting circle
    clique = [(i, j) for i in range(5) for j in range(i + 1, 5)]
    edges = np.array(clique + [(i + 5, j + 5) for i, j in clique])
    weights = np.ones(len(edges))
    pos = svg.force_layout(10, edges, weights)
    assert np.array_equal(pos, svg.force_layout(10, edges, weights))
    assert pos.min() >= 0 and pos.max() <= 1
    start = svg.force_layout(10, edges, weights, iterations=0)
    assert _intra_over_inter(pos) < 0.6 * _intra_over_inter(start)


def test_similarity_graph_draws_each_account_and_escapes_its_id():
    nodes = ["a<b>", "c", "d"]
    drawing = svg.similarity_graph(
        nodes, [("a<b>", "c", 0.9, "prompt"), ("c", "d", 0.5, "infra")], "g"
    )
    assert drawing.count("<circle") == 3
    assert drawing.count("<line") == 2 + 2  # two edges and two legend swatches
    assert "a&lt;b&gt;" in drawing and "a<b>" not in drawing


def test_line_chart_counts_missing_days_as_zero():
    days = [dt.date(2024, 5, 1), dt.date(2024, 5, 3)]
    chart = svg.line_chart([("R1", "#000", [(days[0], 4.0), (days[1], 2.0)])], "c", "y")
    points = chart.split('points="')[1].split('"')[0].split()
    assert len(points) == 3  # 1, 2 and 3 May
    assert float(points[1].split(",")[1]) == max(float(p.split(",")[1]) for p in points)


def test_charts_without_data_draw_nothing():
    assert svg.line_chart([], "c", "y") == ""
    assert svg.scatter([], "s", "x", "y") == ""
    assert svg.similarity_graph([], [], "g") == ""
    assert svg.distribution(np.array([]), np.array([]), "f") == ""


def test_distribution_draws_ring_and_population():
    chart = svg.distribution(np.array([5.0, 5.1]), np.arange(100, dtype=float), "x<y")
    assert "x&lt;y" in chart and "ring" in chart and "all accounts" in chart
