"""The plans a fresh install starts with (the reference's daily limits over a monthly period).

Plain data, shared by the seed migration and the tests, so both agree on the numbers.
"""

from __future__ import annotations

from typing import Any

SEED_PLANS: list[dict[str, Any]] = [
    {
        "code": "basic",
        "name": "Basic",
        "price_cents": 1500,
        "sort_order": 10,
        "recordings_per_period": 600,
        "max_recording_minutes": 5,
        "generations_per_period": 900,
        "chat_messages_per_period": 1500,
        "publishes_per_period": 300,
        "max_post_chars": 280,
    },
    {
        "code": "pro",
        "name": "Pro",
        "price_cents": 3000,
        "sort_order": 20,
        "recordings_per_period": 1500,
        "max_recording_minutes": 10,
        "generations_per_period": 1800,
        "chat_messages_per_period": 3000,
        "publishes_per_period": 600,
        "max_post_chars": 25000,
    },
]
