import pytest

from common.datasets import load


@pytest.fixture(scope="module")
def splits():
    def part(split, n):
        return load("synthetic:pdl1", split=split, n_images=n, size=64, seed=5)
    return part("train", 4), part("val", 2), part("test", 2)
