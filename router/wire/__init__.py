"""The ground floor of the wire formats: the dialects, SSE framing, each format's rules and usage.

It imports nothing of Raceway but its errors, so that every layer above (translation, providers,
dispatch, the relay, the cache, telemetry) can speak of a format without reaching into another.
"""
