from __future__ import annotations

from django.db import models


class ThrottleCounter(models.Model):
    """One fixed rate-limit window of one key (mindpost.core.throttling).

    The table is UNLOGGED (see the migration): counters are cheap to lose in a crash and
    every request writes here, so they skip the write-ahead log.
    """

    pk = models.CompositePrimaryKey("key", "window_start")
    key = models.CharField(max_length=200)
    window_start = models.DateTimeField()
    # Rows past this are dead; deleted opportunistically by throttling.hit().
    expires_at = models.DateTimeField(db_index=True)
    count = models.IntegerField(default=0)

    class Meta:
        db_table = "core_throttlecounter"

    def __str__(self) -> str:
        return f"{self.key} @ {self.window_start:%Y-%m-%d %H:%M:%S}: {self.count}"
