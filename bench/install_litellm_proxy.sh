#!/usr/bin/env bash
# The LiteLLM proxy, for comparison only, in its own venv (its pins would clash with ours),
# installed from its own hash-locked requirements.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv-litellm
.venv-litellm/bin/pip install -q --require-hashes -r litellm-proxy-requirements.txt
