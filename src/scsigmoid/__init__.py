"""Replication suite for sigmoid attention in single-cell foundation models.

Subpackages, with imports flowing one way (left may import right, never the reverse):
``plots`` (CSV in, figures out; imports nothing of ours but ``plots.style``),
``evaluate`` -> ``train`` -> ``model`` -> ``sigattn`` (the kernel library), ``train`` -> ``data``,
``bench`` -> ``sigattn``. ``provenance`` and ``io`` are leaves every stage may use.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
