"""Which process keeps a namespace's ANN index up to date while several write to it.

Every writer used to extend its own copy of the index with every batch committed by
anyone, so three ingests into one namespace did the HNSW work three times over (on two
cores: 101-135 s together against 17 s one after another). Now the first writer of a
namespace takes its *writer lease*, an ``flock`` on ``index/KEY.writer.lock`` held until
that store is closed, and only the holder extends and saves the index as batches commit.
The other writers only commit: the holder's next batch inserts their rows too (its
catch-up reads every row past its watermark), and a writer that finds the lease free
later (the holder finished) takes it over, loading the holder's saved file.

Only a bulk write (``BULK_WRITE_RECORDS`` or more records, as an ingest's batches are)
takes the lease. A small write (one record through the API) takes nothing: it skips the
index while another process holds the lease, and otherwise extends its own as before;
so a server that stores a vector now and then never keeps an ingest from maintaining
(and saving) the index, which would leave the server's next search to insert every row.

Searches are not affected: a searching process always brings its own index up to date.
A folder that cannot take a lock file leaves every writer maintaining its own index,
as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path

from .index_files import INDEX_DIRNAME, namespace_key

BULK_WRITE_RECORDS = 8
"""Records in one write from which the writer takes the lease (see the module doc)."""


@dataclass
class WriterLeases:
    """The writer leases one store holds, by namespace; released by ``release_all``."""

    data_dir: Path
    _held: dict[str, int] = field(default_factory=dict)

    def holds(self, namespace: str, records: int) -> bool:
        """Whether this store maintains ``namespace``'s index after writing ``records``:
        it holds the lease or has just taken it (a bulk write), nobody holds it (a small
        write), or no lease can be taken here at all."""
        if namespace in self._held:
            return True
        folder = Path(self.data_dir) / INDEX_DIRNAME
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / f"{namespace_key(namespace)}.writer.lock", os.O_RDWR | os.O_CREAT)
        except OSError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError:
            os.close(fd)
            return True
        if records < BULK_WRITE_RECORDS:
            os.close(fd)  # free: extend our own index, but leave the lease to a bulk writer
            return True
        self._held[namespace] = fd
        return True

    def release(self, namespace: str) -> None:
        fd = self._held.pop(namespace, None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)  # closing drops the lock

    def release_all(self) -> None:
        for namespace in list(self._held):
            self.release(namespace)


__all__ = ["BULK_WRITE_RECORDS", "WriterLeases"]
