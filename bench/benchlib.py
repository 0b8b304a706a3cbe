"""What the benches share: their configuration flags (check's, with defaults when none are
given) and the explorer's model and seen-set key for it. Import it from a bench script
(`python bench/<name>.py` puts bench/ on the path)."""

from __future__ import annotations

import argparse

from ackcheck.checker.cli.options import config_from_args
from ackcheck.checker.engines.check import model_for
from ackcheck.invariants.catalogue import select
from ackcheck.model.symmetry import canonical_state


def parse_config(ap: argparse.ArgumentParser, argv: list[str], own: set[str], default: list[str]):
    """(args, config): `argv` parsed by `ap`, with `default` check flags appended when
    argv holds none besides the bench's `own` options (each of which takes a value)."""
    config_flags = [a for i, a in enumerate(argv) if a not in own and (i == 0 or argv[i - 1] not in own)]
    args = ap.parse_args(argv if config_flags else argv + default)
    return args, config_from_args(args)


def explorer_model_and_key(config, symmetry: bool = True):
    """(model, key_of): the model `ackcheck check` explores for acked-write-survives, and
    key_of(state) -> (fingerprint, renaming or None, explored form) as its seen set keys
    a state (Model.abstract, then the canonical broker renaming unless `symmetry` is off)."""
    model = model_for(config, select(["acked-write-survives"], config), lean=True)
    abstract = model.abstract

    def fingerprint(s):
        return hash(abstract(s))

    if symmetry:
        def key_of(s):
            return canonical_state(s, fingerprint)
    else:
        def key_of(s):
            return fingerprint(s), None, s
    return model, key_of
