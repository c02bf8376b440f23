"""Folding the SQLite write-ahead log back into the database after a deletion.

With ``secure_delete`` SQLite overwrites erased rows in the pages it writes, but in WAL mode the
older copies of those pages stay in the ``-wal`` file until a checkpoint copies the log back and
truncates it. Every deletion path calls :func:`checkpoint_wal` once it has committed, so that what a
user erased is gone from the files on disk too, not only from query results.
"""

from __future__ import annotations

import logging

from .context import Context

log = logging.getLogger(__name__)

# A checkpoint waits for readers that still use the old pages; a deletion should not hang on a long
# read (a data export streaming), so it waits this long and otherwise leaves the log to the next one.
CHECKPOINT_BUSY_TIMEOUT_MS = 5000


def checkpoint_wal(ctx: Context) -> bool:
    """Checkpoint and truncate the WAL (SQLite only); True when the log is now empty.

    On PostgreSQL this is a no-op that returns True: erased tuples are reclaimed by VACUUM.
    """
    db = ctx.db
    if not db.is_sqlite:
        return True
    raw = db.write_engine.raw_connection()
    try:
        cur = raw.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout={CHECKPOINT_BUSY_TIMEOUT_MS}")
            # Connections are in autocommit (isolation_level None), so this runs outside a transaction.
            busy, _log_frames, _done = cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            cur.execute("PRAGMA busy_timeout=60000")
        finally:
            cur.close()
    finally:
        raw.close()
    if busy:
        log.warning("WAL checkpoint after a deletion was blocked by a reader; the next one will finish it")
        return False
    return True
