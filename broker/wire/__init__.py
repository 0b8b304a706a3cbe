"""A Kafka wire-protocol front end for the reference broker (see docs/clients.md)."""
