from sdrdin import SDRDINConfig

# Tiny S-DRDIN settings for tests: 32 px input, 4 base filters, depth 3, one epoch of two steps.
TINY = dict(input_size=32, patch_stride=16, base_filters=4, depth=3, batch_size=2, epochs=1, steps_per_epoch=2,
            counter_epochs=1, sccnn_epochs=1, sccnn_patches=128, sccnn_width=0.25, n_thresholds=6, min_area=2,
            peak_window=5, vote_box=9)


def tiny(row: str = "S-DRDIN", **overrides) -> SDRDINConfig:
    return SDRDINConfig.quick(**TINY).variant(row).with_overrides(**overrides)
