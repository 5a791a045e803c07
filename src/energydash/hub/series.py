"""Which numbers of a topic's data are kept as history series, and under what names.

Names are ``field`` for a topic-level number and ``{row}.{field}`` for a row of a table
(``A3.power_w`` of ``pdu/1/outlets``, ``NSW1.price_aud_per_mwh`` of ``market/NEM``). Only the
quantities charts use are kept, so a 1,000-outlet fleet does not hold six rings per outlet.
``analytics/scores`` keeps one value per scored series (``hvac-01/discharge_temp_c``), the
first ``max_scores`` of them in the order the analytics service publishes them: a store row
holds every name of its topic, so the names must be a stable, bounded set.
"""

from __future__ import annotations

from typing import Any

Values = dict[str, float | None]

SUMMARY_FIELDS = ("power_w", "energy_kwh", "outlets_on", "breakers_tripped")
PHASE_FIELDS = ("voltage_v", "current_a", "power_w")
MARKET_FIELDS = (
    "price_aud_per_mwh",
    "demand_mw",
    "generation_mw",
    "net_interchange_mw",
    "emissions_t_per_mwh",
    "renewables_mw",
    "curtailed_mw",
)
DEVICE_FIELDS = ("power_w", "energy_kwh")
SITE_FIELDS = (
    "production_w",
    "consumption_w",
    "storage_flow_w",
    "net_grid_flow_w",
    "price_aud_per_mwh",
    "cost_rate_aud_per_h",
)
SITE_TODAY_FIELDS = ("imported_kwh", "exported_kwh", "import_cost_aud", "carbon_kg")
SCORES_TOPIC = "analytics/scores"


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def extract(topic: str, data: Any, *, max_scores: int | None = None) -> Values:
    """The history values of one message of ``topic``; empty when it has none.

    ``max_scores`` bounds the series kept of ``analytics/scores`` (None: all of them)."""
    if not isinstance(data, dict):
        return {}
    out: Values = {}
    if topic == SCORES_TOPIC:
        names = data.get("series") or []
        scores = data.get("score") or []
        keep = len(names) if max_scores is None else max(0, max_scores)
        for name, score in zip(names[:keep], scores[:keep], strict=False):
            if isinstance(name, str):
                out[name] = _num(score)
    elif topic.startswith("pdu/") and topic.endswith("/summary"):
        for name in SUMMARY_FIELDS:
            out[name] = _num(data.get(name))
        for phase in data.get("phases") or []:
            for name in PHASE_FIELDS:
                out[f"{phase.get('phase')}.{name}"] = _num(phase.get(name))
    elif topic.startswith("pdu/") and topic.endswith("/outlets"):
        columns = data.get("outlets") or {}
        for outlet_id, power in zip(
            columns.get("id", []), columns.get("power_w", []), strict=False
        ):
            out[f"{outlet_id}.power_w"] = _num(power)
        for branch in data.get("branches") or []:
            out[f"{branch.get('id')}.current_a"] = _num(branch.get("current_a"))
            out[f"{branch.get('id')}.power_w"] = _num(branch.get("power_w"))
    elif topic == "facilities":
        columns = data.get("facilities") or {}
        codes = columns.get("code", [])
        for field in ("power_mw", "emissions_t"):
            for code, value in zip(codes, columns.get(field, []), strict=False):
                out[f"{code}.{field}"] = _num(value)
    elif topic.startswith("market/"):
        for region in data.get("regions") or []:
            for name in MARKET_FIELDS:
                out[f"{region.get('region')}.{name}"] = _num(region.get(name))
            # The generation mix, so the dashboard's Market mix chart can load any range.
            for tech, value in (region.get("generation_by_fueltech_mw") or {}).items():
                out[f"{region.get('region')}.mix_mw.{tech}"] = _num(value)
        for flow in data.get("interconnectors") or []:
            out[f"{flow.get('id')}.flow_mw"] = _num(flow.get("flow_mw"))
    elif topic.startswith("devices/"):
        for name in DEVICE_FIELDS:
            out[name] = _num(data.get(name))
    elif topic.startswith("site/") and topic.count("/") == 1:
        for name in SITE_FIELDS:
            out[name] = _num(data.get(name))
        storage = data.get("storage") or {}
        out["storage_level_wh"] = _num(storage.get("current_level_wh"))
        out["storage_percentage"] = _num(storage.get("percentage"))
        today = data.get("today") or {}
        for name in SITE_TODAY_FIELDS:
            out[f"today.{name}"] = _num(today.get(name))
    else:
        for name, value in data.items():
            number = _num(value)
            if number is not None:
                out[name] = number
    return out
