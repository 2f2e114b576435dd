import pytest

from common.datasets import load


@pytest.fixture(scope="module")
def splits():
    def part(split, n, size):
        return load("synthetic:he", split=split, n_images=n, size=size, seed=3)
    return part("train", 2, 264), part("val", 1, 252), part("test", 1, 252)
