import json
from pathlib import Path

import pytest

from niftybaskets.baskets import BasketError, load_basket

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "baskets"


def write(tmp_path, data, name="basket.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_the_published_shape_is_read_with_tickers_normalised(tmp_path):
    path = write(
        tmp_path, {"stocks": [{"stock_ticker": "nse:infy ", "weight": 0.6}, {"stock_ticker": "TCS", "weight": 0.4}]}
    )
    basket = load_basket(path)
    assert basket.weights == {"INFY": 0.6, "TCS": 0.4}
    assert basket.warnings == []


def test_the_older_shape_is_read(tmp_path):
    basket = load_basket(write(tmp_path, {"stocks_picked": ["A", "B"], "weights": {"A": 0.5, "B": 0.5}}))
    assert basket.weights == {"A": 0.5, "B": 0.5}


def test_duplicates_are_merged_and_near_one_sums_rescaled_with_warnings(tmp_path):
    basket = load_basket(
        write(
            tmp_path,
            {
                "stocks": [
                    {"stock_ticker": "A", "weight": 0.3},
                    {"stock_ticker": "NSE:A", "weight": 0.2},
                    {"stock_ticker": "B", "weight": 0.505},
                ]
            },
        )
    )
    assert basket.weights == pytest.approx({"A": 0.5 / 1.005, "B": 0.505 / 1.005})
    assert any("more than once" in warning for warning in basket.warnings)
    assert any("rescaled" in warning for warning in basket.warnings)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ({"name": "x"}, "no stocks"),
        ({"stocks": []}, "lists no stocks"),
        ({"stocks": [{"stock_ticker": "A", "weight": -0.1}, {"stock_ticker": "B", "weight": 1.1}]}, "between 0 and 1"),
        ({"stocks": [{"stock_ticker": "A", "weight": "half"}]}, "no valid weight"),
        ('{"stocks": [{"stock_ticker": "A", "weight": NaN}]}', "no valid weight"),
        ({"stocks": [{"stock_ticker": "", "weight": 1}]}, "without a ticker"),
        ({"stocks": [{"weight": 1}]}, "without a ticker"),
        ({"stocks": [{"stock_ticker": "A", "weight": 0.5}, {"stock_ticker": "B", "weight": 0.48}]}, "not 1"),
        ({"weights": {"A": 0.7, "B": 0.7}}, "not 1"),
    ],
)
def test_bad_baskets_are_refused(tmp_path, content, message):
    with pytest.raises(BasketError, match=message):
        load_basket(write(tmp_path, content))


def test_missing_large_and_outside_files_are_refused(tmp_path):
    with pytest.raises(BasketError, match="no basket file"):
        load_basket(tmp_path / "absent.json")
    big = write(tmp_path, '{"stocks": []' + " " * 1_000_001 + "}")
    with pytest.raises(BasketError, match="larger than"):
        load_basket(big)
    root = tmp_path / "docs" / "baskets"
    root.mkdir(parents=True)
    inside = write(root, {"weights": {"A": 1}})
    assert load_basket(inside, basket_root=root).weights == {"A": 1.0}
    outside = write(tmp_path, {"weights": {"A": 1}}, "elsewhere.json")
    with pytest.raises(BasketError, match="outside"):
        load_basket(outside, basket_root=root)
    with pytest.raises(BasketError, match="outside"):
        load_basket(root / ".." / ".." / "elsewhere.json", basket_root=root)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")) if FIXTURES.is_dir() else [])
def test_the_historical_published_baskets_load(name):
    basket = load_basket(FIXTURES / name)
    assert sum(basket.weights.values()) == pytest.approx(1)
    assert all(symbol.isupper() and ":" not in symbol for symbol in basket.weights)
