"""Replication suite for sigmoid attention in single-cell foundation models.

Subpackages, with imports flowing one way (left may import right, never the reverse):
``plots`` (CSV in, figures out; imports nothing of ours but ``plots.style``),
``evaluate`` -> ``train`` -> ``model`` -> ``sigattn`` (the kernel library), ``train`` -> ``data``,
``bench`` -> ``sigattn``. ``provenance`` and ``io`` are leaves every stage may use.
"""

__all__ = ["ATTENTIONS", "__version__"]
__version__ = "0.1.0"

#: The two arms of every comparison, defined once (here: importing it costs no torch import,
#: which keeps the Snakefile quick to parse).
ATTENTIONS = ("softmax", "sigmoid")
