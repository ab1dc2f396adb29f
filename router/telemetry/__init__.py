"""What the gateway tells operators: metrics, event-loop lag, the access log."""
