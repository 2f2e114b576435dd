import pytest

from awarenet import AwareNetConfig
from common.datasets import SampleList
from common.synthetic import make_dataset


@pytest.fixture(scope="module")
def splits():
    tr = SampleList(make_dataset("mihc", 4, 64, seed=11), "synthetic mihc, 4 images of 64 px")
    va = SampleList(make_dataset("mihc", 2, 64, seed=12), "val")
    te = SampleList(make_dataset("mihc", 3, 128, seed=13), "test")
    return tr, va, te

@pytest.fixture(scope="module")
def tiny():
    return AwareNetConfig(input_size=32, base_filters=4, depth=2, batch_size=4, epochs=2, patience=5,
                          counter_epochs=1, learning_rate=1e-3, steps_per_epoch=2, classifier_epochs=2,
                          classifier_batch=16, classifier_base=4, n_thresholds=6)
