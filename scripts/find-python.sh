#!/usr/bin/env bash
# Prints the path of a Python X.Y interpreter (pyenv's, or pythonX.Y on PATH), or explains what to install.
set -euo pipefail
want=${1:?usage: find-python.sh X.Y}
pyenv_root=$(command -v pyenv >/dev/null 2>&1 && pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for candidate in "$pyenv_root"/versions/"$want".*/bin/python"$want" "$(command -v "python$want" 2>/dev/null || true)"; do
  if [ -x "$candidate" ] && "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))" 2>/dev/null; then
    echo "$candidate"
    exit 0
  fi
done
cat >&2 <<MSG
error: Python $want was not found (looked in $pyenv_root/versions and for python$want on PATH).
  Pomocnik needs Python 3.10 for Rasa 3.6 and Python 3.11 for the backend and gateway.
  Install it, e.g. 'pyenv install $want' or your system's 'python$want' package, then run make again.
MSG
exit 1
