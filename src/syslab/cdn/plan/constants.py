"""Units and sweep points shared by the placement modules."""

from __future__ import annotations

GB = 1e9
MONTH_S = 30 * 24 * 3600.0
LOG_COLUMNS = ("time", "region", "url", "size")
KEY_ALIASES = ("url", "key")
PLAN_BUDGETS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
LRU_SCALES = (0.125, 0.25, 0.5, 1.0)
