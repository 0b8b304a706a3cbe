"""Ctrl-C handlers of the long runs (the explorer's search, fuzz): installed for the run,
put back after it."""

from __future__ import annotations

import signal
import threading


def take_sigint(handler, *, over_others: bool = False):
    """Make `handler` the SIGINT handler, in the main thread only (Python runs signal
    handlers there), over Python's default handler - and, with `over_others`, over any other
    Python handler a library or an embedding program installed. An ignored SIGINT stays
    ignored. Returns the handler to give back (give_back_sigint), or None if none was taken."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler or (over_others and callable(previous)):
        signal.signal(signal.SIGINT, handler)
        return previous
    return None


def give_back_sigint(previous) -> None:
    """Put back what take_sigint returned (nothing if it took nothing)."""
    if previous is not None:
        signal.signal(signal.SIGINT, previous)
