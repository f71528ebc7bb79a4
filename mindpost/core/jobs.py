"""The Procrastinate app shared by every process; jobs live in each app's tasks.py."""

from procrastinate.contrib.django import app

__all__ = ["app"]
