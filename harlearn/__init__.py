"""harlearn: the library of the open course *Human Action Recognition in Still Images*.

Every block and model the chapters use lives here; the chapters import it, never the reverse.
Subpackages: ``data`` (Stanford40, VOC 2012 Action, SynthHAR, transforms), ``layers``
(attention blocks, positional embeddings), ``transformers`` (ViT, Swin, MAE), ``models``
(CNN baselines and the papers' models), ``metrics``, ``rerank``, ``train``, ``viz``, ``widgets``.
"""

__version__ = "0.1.0"
