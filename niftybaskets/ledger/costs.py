"""What buying a basket and selling it again costs an Indian investor on NSE's equity delivery segment.

Rates as Zerodha lists them (zerodha.com/charges, equity delivery, 2026): no brokerage, STT 0.1% on
both sides, stamp duty 0.015% on buys, NSE transaction charges 0.00297%, SEBI fees Rs 10 a crore,
GST 18% on brokerage, transaction charges and SEBI fees, and a DP charge of Rs 13 + GST for each
scrip sold (taken by the depository on the day of the sale). Contract notes round some of these
per order; the ledger does not, so its costs are accurate to a few rupees.

The ledger prices a basket's round trip (round_trip); the rebalance planner prices each order with
the same model (buy_charges, sell_charges), a second sale of a scrip on one day paying no DP charge.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CostModel:
    brokerage_rate: float = 0.0
    stt_rate: float = 0.001
    stamp_duty_rate: float = 0.00015  # buys only
    exchange_rate: float = 0.0000297
    sebi_rate: float = 0.000001
    gst_rate: float = 0.18
    dp_charge: float = 13.0  # rupees per scrip sold, before GST

    @property
    def fee_rate(self) -> float:
        """Brokerage, exchange and SEBI fees per rupee traded, with their GST: both sides pay them."""
        return (self.brokerage_rate + self.exchange_rate + self.sebi_rate) * (1 + self.gst_rate)

    @property
    def buy_rate(self) -> float:
        return self.stt_rate + self.stamp_duty_rate + self.fee_rate

    @property
    def sell_rate(self) -> float:
        return self.stt_rate + self.fee_rate

    @property
    def dp_per_sale(self) -> float:
        """The DP charge with its GST, paid once per scrip per day it is sold."""
        return self.dp_charge * (1 + self.gst_rate)

    def buy_charges(self, value: float) -> float:
        return value * self.buy_rate

    def sell_charges(self, value: float, pays_dp: bool = True) -> float:
        """Selling `value` rupees of one scrip; `pays_dp` false for a scrip already sold today."""
        return value * self.sell_rate + (self.dp_per_sale if pays_dp and value > 0 else 0.0)


@dataclass(frozen=True)
class Costs:
    """Rupees paid to buy at `bought` values and sell at `sold` values, line by line."""

    stt: float
    stamp_duty: float
    exchange: float
    sebi: float
    brokerage: float
    gst: float
    dp: float

    @property
    def total(self) -> float:
        return self.stt + self.stamp_duty + self.exchange + self.sebi + self.brokerage + self.gst + self.dp

    def as_dict(self) -> dict[str, float]:
        return {
            "stt": self.stt,
            "stamp_duty": self.stamp_duty,
            "exchange": self.exchange,
            "sebi": self.sebi,
            "brokerage": self.brokerage,
            "gst": self.gst,
            "dp": self.dp,
            "total": self.total,
        }


ZERODHA = CostModel()


def round_trip(bought: list[float], sold: list[float], model: CostModel = ZERODHA) -> Costs:
    """The costs of buying each stock for its value in `bought` and selling it for its value in
    `sold` (same order, rupees)."""
    turnover = sum(bought) + sum(sold)
    exchange = turnover * model.exchange_rate
    sebi = turnover * model.sebi_rate
    brokerage = turnover * model.brokerage_rate
    scrips_sold = sum(1 for value in sold if value > 0)
    dp = scrips_sold * model.dp_charge
    return Costs(
        stt=turnover * model.stt_rate,
        stamp_duty=sum(bought) * model.stamp_duty_rate,
        exchange=exchange,
        sebi=sebi,
        brokerage=brokerage,
        gst=(brokerage + exchange + sebi + dp) * model.gst_rate,
        dp=dp,
    )
