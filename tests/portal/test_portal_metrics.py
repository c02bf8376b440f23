"""The page's own precision-recall computations (web/js/metrics.js), run in the browser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ..conftest import LiveServer

DISC, STRIPES = "d", "s"


@pytest.fixture(scope="module")
def metrics(browser: Any, live: LiveServer) -> Iterator[Any]:
    """Call a function of metrics.js: metrics(name, *args) -> its JSON result."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(live.url + "/status")

    def call(name: str, *args: Any) -> Any:
        return page.evaluate("async ([name, args]) => (await import('/portal/js/metrics.js'))[name](...args)",
                             [name, list(args)])

    yield call
    context.close()


@pytest.mark.parametrize("items, positives, ap", [
    ([{"score": 0.9, "tp": True}, {"score": 0.8, "tp": True}, {"score": 0.3, "tp": False}], 2, 1.0),  # perfect ranking
    ([{"score": 0.9, "tp": False}, {"score": 0.8, "tp": True}], 1, 0.5),  # a false alarm ranked first
    ([{"score": 0.9, "tp": True}], 2, 0.5),  # one object never found
    ([{"score": 0.9, "tp": True}, {"score": 0.7, "tp": False}, {"score": 0.6, "tp": True}], 2, 0.5 + 0.5 * 2 / 3),
    ([], 0, None),  # nothing to find
])
def test_curve_ap_is_the_area_under_the_interpolated_curve(metrics: Any, items: list[dict[str, Any]],
                                                           positives: int, ap: float | None) -> None:
    result = metrics("curve", items, positives)
    assert result["ap"] == (pytest.approx(ap) if ap is not None else None)
    recalls = [p["recall"] for p in result["points"]]
    assert recalls == sorted(recalls)


def test_curve_has_one_point_per_distinct_score(metrics: Any) -> None:
    items = [{"score": 0.9, "tp": True}, {"score": 0.9, "tp": False}, {"score": 0.2, "tp": True}]
    points = metrics("curve", items, 2)["points"]
    assert [(p["threshold"], p["precision"], p["recall"]) for p in points] == [
        (0.9, 0.5, 0.5), (0.2, pytest.approx(2 / 3), 1.0)]
    assert metrics("pointAt", points, 0.5) == points[0]
    assert metrics("pointAt", points, 0.95) is None


@pytest.mark.parametrize("a, b, expected", [
    ({"left": 0, "top": 0, "width": 0.5, "height": 0.5}, {"left": 0, "top": 0, "width": 0.5, "height": 0.5}, 1.0),
    ({"left": 0, "top": 0, "width": 0.2, "height": 0.2}, {"left": 0.5, "top": 0.5, "width": 0.2, "height": 0.2}, 0.0),
    ({"left": 0, "top": 0, "width": 0.5, "height": 0.5}, {"left": 0.25, "top": 0, "width": 0.5, "height": 0.5}, 1 / 3),
])
def test_iou(metrics: Any, a: dict[str, float], b: dict[str, float], expected: float) -> None:
    assert metrics("iou", a, b) == pytest.approx(expected)


def _image(tags: list[str], predictions: dict[str, float]) -> dict[str, Any]:
    return {"tags": [{"tagId": t} for t in tags],
            "predictions": [{"tagId": t, "probability": p} for t, p in predictions.items()]}


def test_classification_curves_and_mistakes(metrics: Any) -> None:
    images = [_image([DISC], {DISC: 0.9, STRIPES: 0.1}), _image([STRIPES], {DISC: 0.2, STRIPES: 0.8}),
              _image([DISC], {DISC: 0.3, STRIPES: 0.85})]
    tags = [{"id": DISC, "name": "Disc"}, {"id": STRIPES, "name": "Stripes"}]
    curves = {c["tag"]["id"]: c for c in metrics("prCurves", images, tags)}
    assert curves[DISC]["positives"] == 2 and curves[DISC]["ap"] == pytest.approx(1.0)
    assert curves[STRIPES]["ap"] == pytest.approx(0.5)
    wrong = metrics("mistakes", images, {"threshold": 0.5})
    assert len(wrong) == 1
    assert wrong[0]["missed"] == [DISC] and wrong[0]["extra"] == [{"tagId": STRIPES, "probability": 0.85}]
    assert metrics("mistakes", images, {"threshold": 0.95}) != []


def test_detection_matches_boxes_by_overlap(metrics: Any) -> None:
    box = {"left": 0.1, "top": 0.1, "width": 0.4, "height": 0.4}
    shifted = {"left": 0.15, "top": 0.1, "width": 0.4, "height": 0.4}  # IoU 0.78
    far = {"left": 0.6, "top": 0.6, "width": 0.3, "height": 0.3}
    image = {"regions": [{"tagId": DISC, **box}],
             "predictions": [{"tagId": DISC, "probability": 0.9, "boundingBox": shifted},
                             {"tagId": DISC, "probability": 0.6, "boundingBox": far}]}
    tags = [{"id": DISC, "name": "disc"}]
    [curve] = metrics("prCurves", [image], tags, {"detection": True, "overlap": 0.5})
    assert curve["ap"] == pytest.approx(1.0) and curve["positives"] == 1
    [strict] = metrics("prCurves", [image], tags, {"detection": True, "overlap": 0.9})
    assert strict["ap"] == pytest.approx(0.0)
    [wrong] = metrics("mistakes", [image], {"threshold": 0.5, "detection": True, "overlap": 0.5})
    assert wrong["missed"] == [] and wrong["extra"] == [{"tagId": DISC, "probability": 0.6}]
    assert metrics("mistakes", [image], {"threshold": 0.7, "detection": True, "overlap": 0.5}) == []
