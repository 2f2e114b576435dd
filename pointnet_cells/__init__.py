"""End-to-end point-proposal cell recognition (Shui et al., MICCAI 2022).

Not implemented yet: the package exists so the layout and the `cellrepro` CLI are in place.
"""

TITLE = "End-to-end point-proposal cell recognition (Shui et al., MICCAI 2022)"
