"""The wire dialects Raceway speaks to clients and upstreams, and translation between them."""
