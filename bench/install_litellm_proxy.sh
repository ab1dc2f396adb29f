#!/usr/bin/env bash
# The LiteLLM proxy, for comparison only, in its own venv (its pins would clash with ours).
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv-litellm
.venv-litellm/bin/pip install -q "litellm[proxy]==1.106.2"
