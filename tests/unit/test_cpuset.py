"""CPU lists: parsed, written canonically, and as systemd's AllowedCPUs byte mask."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dubnium import cpuset


@pytest.mark.parametrize(("text", "canonical"), [
    ("0", "0"), ("3,1,2", "1-3"), ("0-3,6", "0-3,6"), (" 6 , 0-1,1-2", "0-2,6"),
    ("8-8,10-11", "8,10-11"),
])
def test_lists_are_written_canonically(text: str, canonical: str) -> None:
    """Ascending, duplicates and overlaps merged, adjacent runs joined."""
    assert cpuset.canonical(text) == canonical


@pytest.mark.parametrize("text", ["", "a", "3-1", "-1", "0-", "1,,2", "99999", "0x1"])
def test_what_does_not_parse_is_a_value_error(text: str) -> None:
    """Anything but numbers and low-high ranges up to the kernel's limit is refused."""
    with pytest.raises(ValueError, match="CPU"):
        cpuset.canonical(text)


@given(st.frozensets(st.integers(0, 300), min_size=1))
def test_a_mask_names_the_cpus_it_was_made_from(cpus: frozenset[int]) -> None:
    """to_mask then from_mask is the identity on canonical lists."""
    text = cpuset.format_cpus(cpus)
    assert (cpuset.from_mask(cpuset.to_mask(text)), cpuset.parse(text)) == (text, cpus)


def test_no_restriction_is_an_empty_mask() -> None:
    """None (every CPU) is systemd's empty array, and back."""
    assert (cpuset.to_mask(None), cpuset.from_mask(b""), cpuset.from_mask(b"\0\0")) == (
        b"", None, None)
