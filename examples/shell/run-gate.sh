#!/usr/bin/env bash
# The gate from any shell or CI: exit 0 passed, 1 regressed, 2 bad input or refused, 3 Cekura
# unreachable or timed out, 130/143 cancelled. The key comes from the environment, not a flag.
set -euo pipefail
: "${CEKURA_API_KEY:?set CEKURA_API_KEY}"
python3 -m venv .cekura-venv
.cekura-venv/bin/pip install --quiet "cekura-ci @ git+https://github.com/cekura-ci/cekura-ci@v1"
.cekura-venv/bin/cekura-ci run \
  --agent-id "${AGENT_ID:-2142}" \
  --scenario-ids "${SCENARIO_IDS:-24270,24271}" \
  --frequency 3 \
  --pass-threshold 90 \
  --report-file cekura-report.json
