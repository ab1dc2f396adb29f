"""State shared by every worker and instance: the backend interface and its implementations."""
