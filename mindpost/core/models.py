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


class LLMTicket(models.Model):
    """One request waiting for, or holding, a slot of the shared local model (mindpost.ai.queue).

    Rows live only as long as their request: released tickets are deleted, and a ticket whose
    heartbeat stopped (a crashed process) is reclaimed by the next poll, so the table never grows
    with history. UNLOGGED (see the migration): a crash loses only tickets nobody waits on any more.
    """

    id = models.BigAutoField(primary_key=True)  # arrival order within a lane: (lane, id)
    lane = models.SmallIntegerField()
    holding = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "core_llmticket"

    def __str__(self) -> str:
        return f"ticket {self.id} lane {self.lane} {'holding' if self.holding else 'waiting'}"
