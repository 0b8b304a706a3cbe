"""`ackcheck prove`: bounded model checking and k-induction on z3 over an encoded fragment
of the model (encoding.py), cross-checked against model/protocol.py (see docs/prove.md)."""
