#!/usr/bin/env bash
# The chat-template interpreter renders random templates exactly as Jinja2 in transformers'
# environment does (tests/golden/chat_template/differential.py, fixed seeds); needs Debian's
# python3-jinja2 (scripts/install-deps.sh installs it).
set -euo pipefail
: "${VS_BUILD_DIR:?}"
python=${VS_PYTHON:-/usr/bin/python3}
"$python" -c 'import jinja2' 2>/dev/null || { echo "FAIL: $python has no jinja2: install python3-jinja2 (scripts/install-deps.sh)"; exit 1; }
for seed in 1 2; do
  "$python" tests/golden/chat_template/differential.py --render "$VS_BUILD_DIR/tests/tools/vs-render-template" \
    --seed "$seed" --count 1500
done
