"""The provider factory opens the worker's HTTP session with the first deployment that calls an
upstream, and never again once it is closed (a session opened then would never be closed)."""

from __future__ import annotations

import pytest

from router.providers.factory import ProviderFactory
from tests.helpers import fake, native


async def test_the_session_opens_with_the_first_native_deployment_and_not_after_close() -> None:
    factory = ProviderFactory.open()
    factory.build(fake("f"))
    assert factory._session is None  # a fake calls no upstream
    factory.build(native("n", "http://127.0.0.1:9/v1"))
    assert factory._session is not None and not factory._session.closed
    session = factory._session
    await factory.close()
    assert session.closed
    with pytest.raises(RuntimeError, match="closed"):
        factory.build(native("m", "http://127.0.0.1:9/v1"))
