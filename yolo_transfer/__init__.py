"""YOLOv3 (Darknet-53) transfer learning for blood-cell detection on BCCD.

Not implemented yet: the package exists so the layout and the `cellrepro` CLI are in place.
"""

TITLE = "YOLOv3 (Darknet-53) transfer learning for blood cells on BCCD"
