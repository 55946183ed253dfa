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

sum=$(sha256sum "$lock" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi

python=$(scripts/find-python.sh "$want")

echo "==> creating $venv with $python (this happens once per lock-file change)"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip==24.2"
"$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off -r "$lock"
"$venv/bin/python" -m pip check
echo "$sum" > "$stamp"
echo "==> $venv ready"
