"""The reference broker: an independent Kafka implementation with real segment files.

`ackcheck.broker.cluster.Cluster(config, data_dir)` is the entry point; docs/broker.md
describes it. This package reads actions and settings from `ackcheck.traces` only: it
never imports the model, so a replayed counterexample is evidence, not an echo.
"""
