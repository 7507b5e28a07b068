#!/usr/bin/env bash
# Rung 1 on Python 3.13 (the Workers edge runs 3.13; the main venv may be 3.11).
# Looks for python3.13 on PATH, then under ~/.pyenv/versions; skips, saying so, if none.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-py313

# A candidate counts only if it runs and is 3.13 (a pyenv shim may exist and refuse).
python=""
for candidate in $(command -v python3.13 || true) \
    $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13 2>/dev/null | sort -rV); do
  if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "=== rung 1 on Python 3.13: SKIPPED (no working python3.13 on PATH or under ~/.pyenv/versions) ==="
  exit 0
fi
echo "=== rung 1 on Python 3.13: the suite on the embedded SQLite bindings ($("$python" --version), $python) ==="

# Reinstalled when the pins change (as .venv is by `make install`).
stamp=$venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -e '.[dev]'
  touch "$stamp"
fi
"$venv/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 13), sys.version'
# The browser tests are their own rung (test-browser, which installs Chromium first).
"$venv/bin/pytest" -q -p no:cacheprovider --ignore=tests/edge --ignore=tests/browser
