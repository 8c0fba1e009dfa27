"""glossfree: gloss-free sign language translation and sign-subtitle alignment.

The four methods in the project's seed papers are recipes (``configs/<method>/*.yaml``) over one
set of shared parts: data (``glossfree.data``), language side (``glossfree.text``), models
(``glossfree.models``), training engine (``glossfree.training``), evaluation
(``glossfree.evaluation``) and inference (``glossfree.inference``).
"""

__version__ = "0.1.0"
