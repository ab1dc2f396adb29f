"""prometheus-client's metric classes, with each labelled child remembered by its label values.

``labels(...)`` validates its values, turns each into a string and takes a lock on every call
(~2 µs), and the request path asks for a dozen children per request (issue 27). These classes
keep every child they handed out in a plain dict keyed by the values as given (a label's
enum equals its string), so asking again is one lookup. Removing a series forgets what was
remembered. The label values are bounded by the config (``UNKNOWN_MODEL`` stands for any name
a client made up), and past ``REMEMBERED`` children a family remembers no more of them.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

REMEMBERED = 4096  # children remembered per family


class _Remembering:
    _children: dict[tuple[object, ...], Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._children = {}

    def labels(self, *values: object, **by_name: object) -> Any:
        if by_name:
            return super().labels(*values, **by_name)  # type: ignore[misc]
        try:
            return self._children[values]
        except KeyError:
            child = super().labels(*values)  # type: ignore[misc]
            if len(self._children) < REMEMBERED:
                self._children[values] = child
            return child

    def remove(self, *values: object) -> None:
        self._children.clear()
        super().remove(*values)  # type: ignore[misc]

    def remove_by_labels(self, labels: dict[str, str]) -> None:
        self._children.clear()
        super().remove_by_labels(labels)  # type: ignore[misc]

    def clear(self) -> None:
        self._children.clear()
        super().clear()  # type: ignore[misc]


class RememberingCounter(_Remembering, Counter):
    pass


class RememberingGauge(_Remembering, Gauge):
    pass


class RememberingHistogram(_Remembering, Histogram):
    pass
