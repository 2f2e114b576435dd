#!/usr/bin/env bash
# Trains a preset's run folder with the command its spec records (results/presets/make_preset.py PRESETS),
# through curve.py, so it resumes after an interruption and records its validation curve:
#     bash results/presets/train.sh NAME            # e.g. sdrdin-crchisto -> runs/presets/sdrdin-crchisto
#     bash results/presets/train.sh NAME compare    # the run its goal compares against, where it has one
# then export it: python results/presets/make_preset.py NAME --run runs/presets/NAME [--compare RUN].
# Run it with the environment's python first on PATH (e.g. PATH=.venv/bin:$PATH), one at a time on a
# small machine: each takes CPU-hours (the spec's CPU hours are in the preset's manifest).
set -euo pipefail
cd "$(dirname "$0")/../.."
key=command
[ "${2:-}" = compare ] && key="compare command"
cmd=$(python -c "import sys; sys.path.insert(0, 'results/presets'); import make_preset as m; \
spec = m.PRESETS.get(sys.argv[1]) or sys.exit('train.sh: no preset ' + repr(sys.argv[1]) + '; one of ' + ', '.join(m.PRESETS)); \
print(spec.get(sys.argv[2]) or sys.exit('train.sh: ' + sys.argv[1] + ' has no ' + sys.argv[2]))" "${1:?give a preset name}" "$key")
echo "$cmd"
eval "$cmd"
