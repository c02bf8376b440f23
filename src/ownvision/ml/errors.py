"""Errors raised by training (torch-free, so callers can catch them without importing torch).

Unusable input (fewer than two classes, an unreadable image, a label out of range) raises the
built-in :class:`ValueError` with a message that names the problem.
"""

from __future__ import annotations


class TrainingCancelled(Exception):
    """Raised by training when the caller's ``should_stop()`` returned True."""
