"""Database backends of our own (see embedded/)."""
