"""The Redis backend (``state.backend: redis``)."""
