"""Demand forecasting and replenishment math (issue #5).

    data.py           sales lines -> clean daily demand per SKU (returns net, floored at 0;
                      a robust copy with bulk order lines capped, for the models)
    models.py         per-SKU daily forecasts with p10/p90 (statsforecast, by demand class)
    evaluate.py       WAPE, MASE, bias, interval coverage; the 7-day seasonal-naive baseline
    replenishment.py  safety stock, reorder point, order quantity (MOQ, case pack), with reasons

statsforecast is imported on first forecast, not here (it takes seconds to import).
"""

from storeops.ai.forecast.data import DailyDemand, daily_demand, is_product, load_daily_demand, read_sales
from storeops.ai.forecast.models import SkuForecast, WeekdayProfile, classify_demand, forecast_demand
from storeops.ai.forecast.replenishment import (
    DraftPurchaseOrder,
    ReorderSuggestion,
    SupplierTerms,
    draft_purchase_orders,
    suggest_reorder,
)

__all__ = [
    "DailyDemand",
    "DraftPurchaseOrder",
    "ReorderSuggestion",
    "SkuForecast",
    "SupplierTerms",
    "WeekdayProfile",
    "classify_demand",
    "daily_demand",
    "draft_purchase_orders",
    "forecast_demand",
    "is_product",
    "load_daily_demand",
    "read_sales",
    "suggest_reorder",
]
