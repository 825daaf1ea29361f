"""Database models. Every table is keyed by installation (added by the lifecycle work)."""
