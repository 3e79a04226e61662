"""CPU lists as systemd and the kernel write them ("0-3,6"), canonical and as bitmasks.

Pure. Used by `dubnium.facts.SliceSettings` (the `allowed_cpus` setting: studio-local keeps
CPUs for the audio user's services and keeps ai.slice and platform.slice off them), by the
policy loader (which refuses a list that does not parse) and by `backends.systemd`, which
reads and writes systemd's `AllowedCPUs` property: an array of bytes, CPU n being bit n % 8 of
byte n // 8, empty meaning no restriction.
"""

from __future__ import annotations

MAX_CPU = 8191  # the kernel's largest NR_CPUS


def parse(text: str) -> frozenset[int]:
    """The CPUs of a list such as "0-3,6"; ValueError naming what does not parse."""
    cpus: set[int] = set()
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first = int(low, 10)
            last = int(high, 10) if dash else first
        except ValueError:
            raise ValueError(f"{part.strip()!r} is not a CPU number or range (e.g. 0-3,6)"
                             ) from None
        if not 0 <= first <= last <= MAX_CPU:
            raise ValueError(f"{part.strip()!r}: expected CPUs 0 to {MAX_CPU}, low to high")
        cpus.update(range(first, last + 1))
    return frozenset(cpus)


def format_cpus(cpus: frozenset[int]) -> str:
    """The canonical list: ascending, ranges merged ("0-3,6"); "" for no CPU."""
    ordered = sorted(cpus)
    runs: list[str] = []
    start = prev = None
    for cpu in [*ordered, None]:
        if prev is not None and cpu == prev + 1:
            prev = cpu
            continue
        if start is not None:
            runs.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = cpu
    return ",".join(runs)


def canonical(text: str) -> str:
    """`text` rewritten canonically; ValueError when it does not parse or names no CPU."""
    cpus = parse(text)
    if not cpus:
        raise ValueError("no CPU")
    return format_cpus(cpus)


def to_mask(text: str | None) -> bytes:
    """systemd's AllowedCPUs bytes for a list; None (no restriction) is empty."""
    if text is None:
        return b""
    cpus = parse(text)
    mask = bytearray(max(cpus) // 8 + 1)
    for cpu in cpus:
        mask[cpu // 8] |= 1 << (cpu % 8)
    return bytes(mask)


def from_mask(mask: bytes) -> str | None:
    """The list that systemd's AllowedCPUs bytes name; None when empty (no restriction)."""
    cpus = frozenset(i * 8 + bit for i, byte in enumerate(mask) for bit in range(8)
                     if byte >> bit & 1)
    return format_cpus(cpus) if cpus else None
