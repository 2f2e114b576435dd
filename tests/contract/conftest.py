"""The contract tests run over every registered paper (the entry points) and the template paper,
each with its ``tiny`` config on its ``tiny_data``."""

import json
import os

import pytest

from common import contract

TEMPLATE = "paper_template"


def _papers():
    from paper_template.paper import PAPER

    contract.register(PAPER)
    return contract.names()


PAPERS = _papers()


@pytest.fixture(params=PAPERS)
def paper(request):
    return contract.get(request.param)


@pytest.fixture(scope="session")
def tiny_samples():
    """``tiny_samples(paper)``: the paper's tiny training split (cached)."""
    cache = {}

    def get(paper):
        if paper.name not in cache:
            cache[paper.name] = paper.load_split(paper.tiny_data, "train", 0)
        return cache[paper.name]

    return get


def set_args(overrides: dict) -> list:
    """``--set KEY=VALUE`` arguments of a dict of overrides (values as JSON)."""
    out = []
    for k, v in overrides.items():
        out += ["--set", f"{k}={json.dumps(list(v) if isinstance(v, tuple) else v)}"]
    return out


def listing(path) -> list:
    return sorted(os.listdir(path)) if os.path.isdir(path) else []
