"""The deployments of one worker at run time: breaker, statistics, concurrency gate and limits."""
