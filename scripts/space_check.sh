#!/usr/bin/env bash
# Rehearse the Hugging Face Space build on this machine, as the Space builder does it: requirements.txt
# alone into a fresh venv in an empty folder, then the repository copied in, then `python app.py`.
#
#   scripts/space_check.sh resolve   `make space-resolve` (~2 min), run by CI: requirements.txt resolves to a complete
#                                    install, and each pin has a wheel for the Space's Python 3.12
#   scripts/space_check.sh full      `make space-check` (6.5-9 min on a 2-core machine), before a release: each
#                                    pin has a wheel for Python 3.12; requirements.txt installed alone into
#                                    a fresh venv; HEAD cloned beside it; bench.start run there with no
#                                    network at all (a network namespace of its own, loopback only), no
#                                    ../shared and no CATALOG_DIR: words, a photo and a voice clip must come
#                                    back with real products, on a first start and after a restart
#
# torch: requirements.txt pins torch 2.11.0 (ZeroGPU accepts 2.8.0-2.11.0) from PyTorch's CPU index. This
# machine reaches PyPI only: that CPU build cannot be fetched here, and PyPI's torch 2.11.0 is the CUDA build,
# whose NVIDIA packages this registry lacks. So the rehearsal installs pyproject's torch (2.13.0, CPU) in
# its place; every other pin is installed exactly. The app uses no torch API newer than 2.8.
set -euo pipefail
MODE=${1:-resolve}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-python3}
LOCAL_TORCH=$(grep -o '"torch==[^"]*"' "$ROOT/pyproject.toml" | tr -d '"')
SPACE_PYTHON=3.12
WORK=$(mktemp -d /tmp/space-check-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

grep -v -e '^--extra-index-url' "$ROOT/requirements.txt" | sed "s/^torch==.*/$LOCAL_TORCH/" > "$WORK/requirements.txt"
"$PY" -m venv "$WORK/venv"
PIP=("$WORK/venv/bin/pip" --disable-pip-version-check)

space_pins() {  # each pin (torch as requirements.txt has it) has a wheel for the Space's Python
  local platforms=()
  for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
           manylinux_2_5_x86_64 manylinux1_x86_64 linux_x86_64; do platforms+=(--platform "$p"); done
  grep -v -e '^--extra-index-url' "$ROOT/requirements.txt" > "$WORK/space-requirements.txt"
  "${PIP[@]}" install --dry-run --quiet --no-deps --ignore-installed --only-binary=:all: --target "$WORK/target" \
    --python-version "$SPACE_PYTHON" "${platforms[@]}" -r "$WORK/space-requirements.txt"
  echo "every pin of requirements.txt ($(grep "^torch==" "$ROOT/requirements.txt") among them) has a wheel for Python $SPACE_PYTHON"
}

if [ "$MODE" = resolve ]; then
  "${PIP[@]}" install --dry-run --quiet --ignore-installed --report "$WORK/report.json" -r "$WORK/requirements.txt"
  "$WORK/venv/bin/python" - "$WORK/report.json" <<'PYEOF'
import json, sys
report = json.load(open(sys.argv[1]))
names = sorted(f"{i['metadata']['name']}=={i['metadata']['version']}" for i in report["install"])
print(f"requirements.txt resolves on Python {sys.version.split()[0]}: {len(names)} packages, e.g. "
      + ", ".join(n for n in names if n.split("==")[0].lower() in ("torch", "gradio", "chromadb", "numpy")))
PYEOF
  space_pins
  echo "PASS"
  exit 0
fi

[ "$MODE" = full ] || { echo "usage: $0 resolve|full"; exit 2; }
space_pins
echo "installing requirements.txt alone into a fresh venv in $WORK (as the Space builder does)"
"${PIP[@]}" install --quiet -r "$WORK/requirements.txt"
git clone --quiet --no-checkout "$ROOT" "$WORK/app"
git -C "$WORK/app" checkout --quiet "$(git -C "$ROOT" rev-parse HEAD)"
cd "$WORK/app"
RUN=("$WORK/venv/bin/python" -m bench.start --repo . --python "$WORK/venv/bin/python")
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null; then
  echo "running the app with no network (a network namespace with loopback only)"
  unshare --net sh -c 'ip link set lo up && exec "$@"' sh "${RUN[@]}"
else
  echo "not root: running with the network as it is"
  "${RUN[@]}"
fi
