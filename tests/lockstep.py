"""Shared by the broker tests: configs, a scripted schedule run on the model, and the model
and the reference broker run side by side."""

from __future__ import annotations

from conftest import make_config

from ackcheck.broker.cluster import Cluster
from ackcheck.checker.engines.check import trace_from_actions
from ackcheck.checker.engines.replay import observation_difference
from ackcheck.model.protocol import Model
from ackcheck.model.state import observe
from ackcheck.traces.format import Trace


def config(settings=(), version=None, rules=(), **bounds):
    """make_config (conftest) with the settings as (property, value) pairs."""
    return make_config(dict(settings), version, rules, **bounds)


def model_trace(cfg, actions, invariants=None) -> Trace:
    """Run a scripted schedule on the model: the trace it produces (with its first violation)."""
    return trace_from_actions(cfg, actions, invariants, stop_at_violation=False)


class Lockstep:
    """Model and broker side by side: every action on both, observations and enabled
    actions compared after each."""

    def __init__(self, cfg, tmp):
        self.model = Model(cfg)
        self.s = self.model.init()
        self.c = Cluster(cfg, tmp, segment_bytes=256, fsync=False)

    def do(self, *actions):
        for a in actions:
            self.s = self.model.step(self.s, a)
            self.c.apply(a)
            d = observation_difference(observe(self.s), self.c.observe())
            assert d is None, f"after {a}: {d}"
            assert sorted(self.model.actions(self.s), key=repr) == sorted(self.c.enabled_actions(), key=repr), a
        return self

    def obs(self):
        return self.c.observe()

    def leos(self, b: int):
        return self.obs().replicas[b].follower_leos
