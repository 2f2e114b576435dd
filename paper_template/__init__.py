"""A template for a sixth paper: the smallest package that meets the paper contract.

Copy this folder, rename it and its ``Paper`` (``paper.py``), replace the network, targets and
post-processing with the paper's, and declare it in your distribution's ``setup.cfg``::

    [options.entry_points]
    cellrepro.papers =
        my_paper = my_paper.paper:PAPER

``cellrepro my_paper train|predict|evaluate|reproduce`` then works, and the contract tests
(``tests/contract``) check it as they check the five papers. This one detects cells as the peaks of
a Gaussian density map regressed by a small fully convolutional network.

Attributes are imported on first use (PEP 562), so ``import paper_template`` does not import TensorFlow.
"""

from common import lazy_attributes

__getattr__, __dir__, __all__ = lazy_attributes(__name__, globals(), {
    "config": "TemplateConfig", "model": "TemplateNet build_network", "train": "train",
    "inference": "TemplatePredictor", "paper": "PAPER TITLE load"})
