"""Shared hypothesis strategies for the fuzz and property tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def json_values(
    *, text: int, keys: int, width: int, leaves: int, bound: int = 2**40
) -> st.SearchStrategy[Any]:
    """Arbitrary JSON values: null, booleans, integers within ``±bound``, finite floats, strings of at most
    ``text`` characters, nested in lists and objects (``keys``-character keys) of at most ``width``
    entries, ``leaves`` scalars in all."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-bound, bound)
        | st.floats(allow_nan=False)
        | st.text(max_size=text)
    )

    # A named function, not a lambda: hypothesis reads the extend function's source to check that it uses
    # its argument, and it once misread a lambda inside a multi-line call (a deprecation warning, an error
    # under filterwarnings=error).
    def containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.lists(inner, max_size=width) | st.dictionaries(
            st.text(max_size=keys), inner, max_size=width
        )

    return st.recursive(scalars, containers, max_leaves=leaves)
