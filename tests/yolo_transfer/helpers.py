from yolo_transfer import YoloConfig

# Tiny YOLO settings for tests: width 0.125, 64 px input, one epoch of two steps per stage.
TINY = dict(model="tiny", width=0.125, input_size=64, multiscale_sizes=(64, 96), epochs=1, source_epochs=1,
            stage2_epochs=1, source_images=4, batch_size=2, anchors="coco")


def tiny(row: str = "scratch", **overrides) -> YoloConfig:
    return YoloConfig.quick(**TINY).variant(row).with_overrides(**overrides)
