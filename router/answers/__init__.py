"""Answers used more than once: the response cache, single flights, replay as a stream."""
