"""S-DRDIN (Zhang et al., COMPAY 2021): simultaneous cell detection and classification.

Not implemented yet: the package exists so the layout and the `cellrepro` CLI are in place.
"""

TITLE = "S-DRDIN - simultaneous detection + classification (Zhang et al., COMPAY 2021)"
