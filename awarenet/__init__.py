"""AwareNet (Hagos et al., ISBI 2021): class-abundance weighted Dice for rare-cell detection.

Not implemented yet: the package exists so the layout and the `cellrepro` CLI are in place.
"""
