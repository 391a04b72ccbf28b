"""NSE Indices' published constituent files: the steadiest list of an index's members (no prices).

NSE Indices publishes each index's members as `ind_{name}list.csv` ("Company Name, Industry,
Symbol, Series, ISIN Code"); the name is the index's, lower case, without spaces.
"""

from __future__ import annotations

import csv
import io

import requests

from niftybaskets.marketdata.answers import NotFound, SourceDown, WebSource

SOURCE = "niftyindices"
DEFAULT_BASE_URL = "https://niftyindices.com/IndexConstituent"
COLUMNS = ("Company Name", "Industry", "Symbol", "Series", "ISIN Code")


def file_name(index: str) -> str:
    """ind_niftysmallcap250list.csv for NIFTY SMALLCAP 250."""
    return f"ind_{''.join(index.lower().split())}list.csv"


class NiftyIndicesClient(WebSource):
    name = SOURCE
    title = "NSE Indices"
    default_base_url = DEFAULT_BASE_URL
    accept = "text/csv,text/plain,*/*"

    def index_constituents(self, index: str) -> list[dict]:
        """The index's stocks, in the shape NSE's list has, with no prices (last_price 0)."""
        response = self.get(f"{self.base_url}/{file_name(index)}")
        if response.status_code == 404:
            raise NotFound(f"NSE Indices publishes no {file_name(index)}: check the index name")
        if response.status_code != 200:
            raise SourceDown(f"NSE Indices answered HTTP {response.status_code} for {file_name(index)}")
        try:
            rows = self._rows(response)
        except csv.Error as error:
            raise self.unexpected(response, f"not CSV: {error}") from None
        stocks = []
        for row in rows:
            stocks.append(
                {
                    "symbol": row["Symbol"],
                    "company": row["Company Name"] or row["Symbol"],
                    "industry": row["Industry"] or "unknown",
                    "last_price": 0.0,
                    "previous_close": None,
                    "day_low": None,
                    "day_high": None,
                    "year_low": None,
                    "year_high": None,
                    "volume": None,
                    "change_30d": None,
                    "change_365d": None,
                }
            )
        if not stocks:
            raise self.unexpected(response, "no rows")
        return stocks

    def _rows(self, response: requests.Response) -> list[dict[str, str]]:
        reader = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig", errors="replace")))
        if reader.fieldnames is None or not set(COLUMNS) <= {name.strip() for name in reader.fieldnames}:
            raise self.unexpected(response, f"no {', '.join(COLUMNS)} header")
        rows = [{key.strip(): str(value or "").strip() for key, value in row.items() if key} for row in reader]
        return [row for row in rows if row.get("Symbol")]
