#!/usr/bin/env bash
# Creates (or refreshes) one of the project's two Python environments from its lock file.
#   scripts/setup-env.sh app   -> .venv/app  (Python 3.11: backend, gateway, mail sink, tests)
#   scripts/setup-env.sh rasa  -> .venv/rasa (Python 3.10: Rasa server, action server)
# The environment is rebuilt only when its lock file changes (a hash stamp inside the venv).
set -euo pipefail
cd "$(dirname "$0")/.."

name=${1:?usage: setup-env.sh app|rasa}
case "$name" in
  app)  want=3.11 ;;
  rasa) want=3.10 ;;
  *) echo "unknown environment '$name' (app|rasa)" >&2; exit 2 ;;
esac
venv=".venv/$name"
lock="requirements/$name.lock"
stamp="$venv/.lock-sha256"

find_python() {
  local candidate
  for candidate in \
      "$(command -v pyenv >/dev/null 2>&1 && pyenv root 2>/dev/null)/versions/$want"*/bin/python"$want" \
      "$(command -v "python$want" 2>/dev/null || true)"; do
    if [ -x "$candidate" ] && "$candidate" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$want'.split('.')))" 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

sum=$(sha256sum "$lock" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi

if ! python=$(find_python); then
  cat >&2 <<MSG
error: Python $want was not found.
  The '$name' environment needs Python $want (Rasa 3.6 supports Python up to 3.10; the backend uses 3.11).
  Install it, e.g. 'pyenv install $want' or your system's 'python$want' package, then run make again.
MSG
  exit 1
fi

echo "==> creating $venv with $python (this happens once per lock-file change)"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip==24.2"
"$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off -r "$lock"
"$venv/bin/python" -m pip check
echo "$sum" > "$stamp"
echo "==> $venv ready"
