"""Reconciling: the plan of a configuration against the store, and applying it (SPEC 4)."""

from runner.reconciler.apply import ApplyResult, apply_config, apply_saved_plan
from runner.reconciler.planning import PlanResult, make_plan

__all__ = ["ApplyResult", "PlanResult", "apply_config", "apply_saved_plan", "make_plan"]
