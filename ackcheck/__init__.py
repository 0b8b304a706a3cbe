"""ackcheck: what a Kafka configuration actually guarantees under crashes, power loss and elections."""

__version__ = "0.1.0"
