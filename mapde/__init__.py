"""MapDe (Raza et al., ISBI 2019): Micro-Net with a fixed mapping filter and Lucy-Richardson deconvolution.

Not implemented yet: the package exists so the layout and the `cellrepro` CLI are in place.
"""
