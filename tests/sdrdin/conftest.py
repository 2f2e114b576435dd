import pytest

from common.datasets import load


@pytest.fixture(scope="module")
def splits():
    def part(split, n, size):
        return load("synthetic:mihc6", split=split, n_images=n, size=size, seed=3)
    return part("train", 2, 64), part("val", 1, 64), part("test", 1, 64)
