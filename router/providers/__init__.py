"""Providers: one object per deployment that knows how to call it.

The package itself imports nothing: the config (``router.providers.litellm_params``) is read
in the supervisor, which never calls an upstream, so aiohttp and the providers load only in the
workers, through ``router.providers.factory``.
"""
