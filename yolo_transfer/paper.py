"""What the YOLOv3 blood-cell paper (Ren, Lam, Zhao) publishes, as data, and the public BCCD numbers
we put beside ours where the paper gives none.

The paper reports one number: training the detector takes 6.8 h from scratch and 2.5 h with transfer
learning (section 3). It shows detections (Fig. 2) but no AP table, so the detection table sets our AP
beside a public BCCD run (not the paper's), named in every table that shows it.
"""

from __future__ import annotations

__all__ = ["CLASS_NAMES", "PUBLIC_AP", "PUBLIC_AP_SOURCE", "TRAINING_HOURS", "TRAINING_HOURS_SOURCE"]

CLASS_NAMES = ("RBC", "WBC", "Platelets")

# Section 3: "the time consumption in training is greatly reduced from 6.8 h to 2.5 h".
TRAINING_HOURS = {"scratch": 6.8, "transfer": 2.5}
TRAINING_HOURS_SOURCE = "Ren, Lam, Zhao, section 3 (hardware, epochs and target not stated)"

# AP@0.5 on the BCCD test images from a public YOLOv7 transfer run (reference_specs 4f); not the paper's.
PUBLIC_AP = {"RBC": 0.859, "WBC": 0.983, "Platelets": 0.876, "mAP": 0.906}
PUBLIC_AP_SOURCE = ("public YOLOv7 transfer run on BCCD (AqsaRasheed/Complete-Blood-Count-CBC-, 73 test images), "
                    "not the paper's: the paper publishes no AP")
