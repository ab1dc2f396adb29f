"""Calling upstreams: the dispatcher (groups, rounds, retries), the round engine, one attempt."""
