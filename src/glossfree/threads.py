"""The CPU thread count of a command: one explicit call at command start, never at import.

torch starts one intra-op thread per core. On a machine whose cores other processes also use, that
is the slow setting: on the 2-core development machine a ``pose_perceiver/mid`` step took 6.6 s with
torch's default while one other process was busy, 1.1 s with one thread (docs/benchmarks.md §2 and
§12). ``glossfree train|evaluate --threads N`` and the benchmarks' ``--threads`` call
:func:`set_threads`; without it torch's default stands.
"""

from __future__ import annotations

from glossfree.errors import ConfigError


def set_threads(threads: int | None) -> int:
    """Use ``threads`` torch intra-op threads (``None``: leave torch's default); returns the count in use."""
    import torch

    if threads is None:
        return torch.get_num_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"--threads must be a whole number >= 1, got {threads!r}")
    torch.set_num_threads(threads)
    return torch.get_num_threads()
