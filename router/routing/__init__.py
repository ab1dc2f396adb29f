"""Which model group and deployments serve a request: rules, strategies, budget tiers."""
