"""Placement by demand and price: which node stores what, and what it costs against LRU.

Pure computation, no network I/O. The pieces, in the order `syslab cdn plan` uses them:

* **Inputs.** A request log (`read_log`: CSV with columns `time` in seconds, `region`,
  `url` or `key`, `size` in bytes) and a price/topology file (`read_prices`: JSON or TOML, one
  node per region, plus the inter-node network). A synthetic generator (`synthetic_log`) and
  replays of the cache lab's sized traces (`replay_trace`: the Tencent photo-CDN sample,
  oracleGeneral block traces) stand in when there is no regional log.
* **Units.** GB = 10^9 bytes; a month is 30 days (2,592,000 s). Per node r: S_r =
  `storage_price` ($/GB-month), E_r = `egress_price` (node -> its region's clients, $/GB),
  F_r = `fill_price` (origin -> node: the origin's egress, $/GB; `origin_egress` is its
  default), optional capacity C_r (bytes; unlimited when omitted). Network: X[h, r] ($/GB,
  node h sends to node r, billed at the sender like cloud inter-region transfer) from an
  explicit `transfer` table, else node h's `transfer_price`, else the file's
  `transfer_price`; none: no path. X[r, r] = 0.
* **Routing.** A client in region r always enters the CDN at r's node, which delivers the
  bytes (E_r per GB, so egress is the same for every strategy). The node gets them from its
  own store (a *local hit*), else from the cheapest other node h that holds the object when
  X[h, r] < F_r (a *remote hit*: X[h, r] per GB, one more hop of latency), else from the
  origin (a *miss*: F_r per GB). `Prices.local_only()` / `--local-only` removes every
  inter-node path: the earlier single-region model, where only local hits exist.
* **Hit ratio** = origin offload: (local + remote hits) / requests; byte hit ratio the same
  over bytes. Also reported: the local hit ratio (served by the client's own node), the
  remote share, and the mean source price (fill + transfer $ per requested GB: how far,
  in dollars, the bytes travelled on average).
* **Cost of a window** (seconds T):
  storage = sum_h S_h * stored byte-seconds_h / (GB * month),
  fill = sum_r F_r * (pushed bytes_r + origin bytes_r) / GB,
  transfer = sum over remote hits of X[holder, r] * size / GB,
  egress = sum_r E_r * requested bytes_r / GB (the same for every strategy; it dilutes any
  saving and is reported with and without).
* **Demand.** `learn_demand` counts requests per (region, object) on a training window; the
  expected count in the next window of length T is n_hat = n_train * T / T_train.
* **Planner** (`plan_placement`): capacitated facility location per object, greedy. For
  object o (size s) and holder set H:
  cost_o(H) = s/GB * [sum_{h in H} (S_h * T/month + push_h)
                      + sum_r n_hat_r * min(F_r, min_{h in H} X[h, r])],
  push_h = F_h (pushed from the origin), 0 if the previous plan already put o on h. From
  H = {} each object adds the node with the largest saving per GB while it beats
  `min_saving` (0: the addition pays for its storage and push), so a moderately popular
  object is stored once at the node that serves all regions most cheaply and replicated
  only where local demand pays for a copy. Capacity: all objects' additions, best saving
  per byte first (the knapsack's value density), go to their node while they fit in
  `budget` * C; an addition that does not fit blocks the rest of its object's additions,
  and blocked objects are re-planned without the nodes they no longer fit in (twice).
* **Simulation.** `simulate_plan`: holdings fixed for the window (pushed at its start,
  stored for T), routing as above; unplanned requests pass through from the origin, unless
  `remainder` > 0 gives them a local LRU over that fraction of the unplanned capacity.
  `simulate_lru`: "cache everywhere" -- each node an LRU of its capacity in bytes (the cache
  lab's policy), warmed on the earlier windows (not counted), stored bytes integrated over
  time; a local miss goes to the origin and is cached. `cooperative=True` (the stronger
  baseline): a local miss first asks the other nodes, the cheapest holder under F_r sends it
  (a remote hit) and the requesting node caches a copy (ICP-style siblings).
* **Equal hit ratio.** `compare` sweeps the plan's budget (and, to buy hit ratio beyond the
  profitable set, `min_saving = -inf`: any placement that serves demand more cheaply) and
  the LRUs' capacity. At each LRU's hit ratio the plan's cost is (a) the cheapest swept plan
  whose hit ratio is at least the LRU's ("step", an actual plan) and (b) a linear
  interpolation along the plan's cost/hit-ratio frontier. Every plan is learned on the
  training window only; the sweep is a curve over the evaluation window, like a miss-ratio
  curve, not a tuned operating point.
"""

from __future__ import annotations

from syslab.cdn.plan.compare import (
    Comparison,
    compare,
    cost_at,
    equal_hit,
    plot_comparison,
    saving_thresholds,
)
from syslab.cdn.plan.constants import (
    GB,
    KEY_ALIASES,
    LOG_COLUMNS,
    LRU_SCALES,
    MONTH_S,
    PLAN_BUDGETS,
)
from syslab.cdn.plan.logs import (
    RequestLog,
    read_log,
    write_log,
)
from syslab.cdn.plan.planner import (
    Demand,
    NodePlan,
    Plan,
    learn_demand,
    plan_placement,
)
from syslab.cdn.plan.prices import (
    BUILTIN_PRICES,
    CLOUD_PRICES,
    EXAMPLE_PRICES,
    UNLIMITED,
    Node,
    Prices,
    align,
    cloud_prices,
    example_prices,
    parse_bytes,
    parse_prices,
    read_prices,
)
from syslab.cdn.plan.report import (
    clean_json,
    load_log,
    tables,
    verdict,
    write_results,
)
from syslab.cdn.plan.simulate import (
    Outcome,
    served_by_plan,
    simulate_lru,
    simulate_plan,
)
from syslab.cdn.plan.workloads import (
    regionalize,
    replay_trace,
    synthetic_log,
)

__all__ = [
    "BUILTIN_PRICES",
    "CLOUD_PRICES",
    "Comparison",
    "Demand",
    "EXAMPLE_PRICES",
    "GB",
    "KEY_ALIASES",
    "LOG_COLUMNS",
    "LRU_SCALES",
    "MONTH_S",
    "Node",
    "NodePlan",
    "Outcome",
    "PLAN_BUDGETS",
    "Plan",
    "Prices",
    "RequestLog",
    "UNLIMITED",
    "align",
    "clean_json",
    "cloud_prices",
    "compare",
    "cost_at",
    "equal_hit",
    "example_prices",
    "learn_demand",
    "load_log",
    "parse_bytes",
    "parse_prices",
    "plan_placement",
    "plot_comparison",
    "read_log",
    "read_prices",
    "regionalize",
    "replay_trace",
    "saving_thresholds",
    "served_by_plan",
    "simulate_lru",
    "simulate_plan",
    "synthetic_log",
    "tables",
    "verdict",
    "write_log",
    "write_results",
]
