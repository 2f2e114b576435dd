from pointnet_cells import PointNetConfig

# Tiny settings for tests: VGG16 at width 1/16, 64 px crops, one epoch of two steps.
TINY = dict(width=0.0625, head_channels=8, crop_size=64, tile_size=128, epochs=1, density_epochs=1, batch_size=2,
            density_width=0.0625, n_thresholds=4, min_distances=(2, 4))


def tiny(row: str = "ours", **overrides) -> PointNetConfig:
    return PointNetConfig.quick(**TINY).variant(row).with_overrides(**overrides)
