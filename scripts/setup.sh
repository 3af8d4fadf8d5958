#!/usr/bin/env bash
# Set up gpuml on a fresh Debian/Ubuntu machine; safe to re-run (installs only what is missing).
#   - system packages (root only, via apt-get): mesa-vulkan-drivers + libvulkan1 (lavapipe: a WebGPU adapter
#     on the CPU when there is no GPU), chromium (browser tests), xvfb (demo window tests)
#   - .venv with gpuml installed editable plus its test/demo dependencies
#   - web/node_modules (Pyodide; tf.js, jax-js, onnxruntime-web for `gpuml bench web`) when npm is available
# Prints one line per action taken or skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "[setup] $*"; }

# --- system packages ---------------------------------------------------------------------------------
want=(mesa-vulkan-drivers libvulkan1 chromium xvfb)
missing=()
for pkg in "${want[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "system packages present: ${want[*]}"
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  say "installing with apt-get: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  say "installed: ${missing[*]}"
else
  say "WARNING: missing ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})."
  say "         Without mesa-vulkan-drivers gpuml falls back to an OpenGL adapter or the numpy backend."
fi

# --- Python ------------------------------------------------------------------------------------------------
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  say "ERROR: gpuml needs Python >= 3.11 ($("$python" --version 2>&1) found); set PYTHON=/path/to/python3.11+"
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
  say "created virtual environment .venv ($(.venv/bin/python --version))"
fi
stamp=.venv/.gpuml-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[test,demos,plots]"
  touch "$stamp"
  say "installed gpuml (editable) and its Python dependencies into .venv"
else
  say "Python dependencies up to date in .venv"
fi

# --- optional: PyTorch CPU, the independent reference some tests and benchmarks compare against ---------------
# Only from a local wheel (this never downloads the multi-GB CUDA build); without it those comparisons skip.
if .venv/bin/python -c "import torch" 2>/dev/null; then
  say "PyTorch present in .venv ($(.venv/bin/python -c 'import torch; print(torch.__version__)'))"
else
  wheel=""
  for dir in ${PIP_FIND_LINKS:-} /opt/wheels; do
    [ -d "$dir" ] && wheel=$(ls "$dir"/torch-*+cpu-*.whl 2>/dev/null | head -n 1) && [ -n "$wheel" ] && break
  done
  if [ -n "$wheel" ]; then
    version=$(basename "$wheel" | cut -d- -f2 | cut -d+ -f1)
    .venv/bin/python -m pip install -q "torch==$version" --find-links "$(dirname "$wheel")"
    say "installed PyTorch $version (CPU, local wheel) for the reference comparisons"
  else
    say "PyTorch not installed (no local CPU wheel): tests that compare against it will skip"
  fi
fi

# --- npm (Pyodide for the browser backend; tf.js and the peers for the bench page) ------------------
if [ -f web/package.json ]; then
  if command -v npm >/dev/null; then
    if [ ! -d web/node_modules/pyodide ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
      (cd web && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
      say "installed npm packages in web/ (Pyodide, tf.js, jax-js, onnxruntime-web)"
    else
      say "npm packages in web/ up to date"
    fi
  else
    say "WARNING: npm not found; browser tests need Node.js + npm (apt-get install nodejs npm)"
  fi
fi

export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
say "adapter: $(.venv/bin/python -c 'import gpuml; print(gpuml.get_device().adapter)' 2>/dev/null || echo 'none found')"
