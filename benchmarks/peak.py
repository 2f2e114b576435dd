"""Peak memory of a ``cellrepro`` command in a fresh process, for the benchmarks.

``ru_maxrss`` of a waited-for child is not enough: Linux keeps the high-water mark of the forked copy of
the parent across ``exec``, so a benchmark that has built a large slide in memory would see its own size.
The child reports its own ``VmHWM`` (the high-water mark of its address space, reset by ``exec``) from
``/proc/self/status`` as it exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

_LAUNCH = """
import atexit, runpy, sys
def _hwm(path=sys.argv[1]):
    with open('/proc/self/status') as f:
        kb = [int(l.split()[1]) for l in f if l.startswith('VmHWM')][0]
    with open(path, 'w') as f:
        f.write(str(kb))
atexit.register(_hwm)
sys.argv = ['cellrepro'] + sys.argv[2:]
runpy.run_module('common.cli', run_name='__main__')
"""


def run_measured(argv, cwd) -> tuple[float, float]:
    """Runs ``cellrepro ARGV`` in a child process: ``(wall seconds, peak resident GB)``; raises with the
    end of its stderr when it fails."""
    with tempfile.NamedTemporaryFile("r", suffix=".hwm", delete=False) as f:
        hwm = f.name
    try:
        t = time.time()
        res = subprocess.run([sys.executable, "-c", _LAUNCH, hwm, *map(str, argv)], cwd=cwd,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.time() - t
        if res.returncode:
            raise RuntimeError(f"cellrepro {' '.join(map(str, argv))} failed ({res.returncode}): "
                               f"{res.stderr.strip()[-800:]}")
        with open(hwm, encoding="utf-8") as fh:
            return wall, int(fh.read()) / 2 ** 20
    finally:
        os.unlink(hwm)
