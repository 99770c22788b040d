#!/usr/bin/env bash
# The gate from any shell or CI: exit 0 passed, 1 regressed, 2 bad input or refused, 3 Cekura
# unreachable or timed out, 130/143 cancelled. Every input comes from its CEKURA_* variable, as the
# README shows (export CEKURA_API_KEY, CEKURA_AGENT_ID, CEKURA_SCENARIO_IDS, …); flags given to this
# script are passed on and win over them. The key comes from the environment, never a flag.
set -euo pipefail
: "${CEKURA_API_KEY:?set CEKURA_API_KEY}"
export CEKURA_REPORT_FILE="${CEKURA_REPORT_FILE:-cekura-report.json}"
python3 -m venv .cekura-venv
.cekura-venv/bin/pip install --quiet "cekura-ci @ git+https://github.com/cekura-ci/cekura-ci@v1"
exec .cekura-venv/bin/cekura-ci run "$@"
