#!/usr/bin/env bash
# API fuzzing (issue 8): Schemathesis against the OpenAPI document served by the real binary,
# every operation, as every role, with the checks not_a_server_error,
# response_schema_conformance and status_code_conformance. Bounded: a fixed number of examples
# per operation, a fixed seed, and a time limit per run.
#
# Usage: .ci/schemathesis.sh [path/to/caseledger]   (default: target/debug/caseledger, built
# with `cargo build --locked --bin caseledger` when missing). Env: SCHEMATHESIS_EXAMPLES (50),
# SCHEMATHESIS_SEED (1), SCHEMATHESIS_RUN_TIMEOUT seconds per run (150).
# Seven runs (admin twice over, plus one that revokes tokens, then each other role) take about
# three minutes here.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
examples=${SCHEMATHESIS_EXAMPLES:-50}
seed=${SCHEMATHESIS_SEED:-1}
run_timeout=${SCHEMATHESIS_RUN_TIMEOUT:-150}
binary=${1:-target/debug/caseledger}

if [[ "$(schemathesis --version 2>/dev/null || true)" != *"$SCHEMATHESIS_VERSION"* ]]; then
    echo "installing schemathesis $SCHEMATHESIS_VERSION"
    python3 -m pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi
schemathesis --version
if [[ ! -x $binary ]]; then
    cargo build --locked --bin caseledger
fi

# Nothing the fuzzer makes the service do may send a packet off this machine: an endpoint
# with a generated host name would have the deliverer look the name up in DNS. So the service
# and the fuzzer run in a network namespace of their own, which has only loopback.
if [[ -z ${CASELEDGER_FUZZ_NETNS:-} ]]; then
    if ! command -v ip >/dev/null 2>&1; then
        apt-get install -y -qq iproute2 >/dev/null
    fi
    echo "running in a network namespace with only loopback"
    exec unshare --net env CASELEDGER_FUZZ_NETNS=1 bash -c 'ip link set lo up && exec bash "$@"' \
        bash "$0" "$binary"
fi

work=$(mktemp -d)
pid=
stop_service() {
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        wait "$pid" || true
    fi
    pid=
}
trap 'stop_service; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

# The service on a fresh data dir and a free loopback port; the port comes from its log. Reads
# with `?min_position=` beyond the head answer 503 after the read wait (contract §2): a short
# wait keeps the many such requests the generator makes from stretching the run.
printf '[limits]\nread_wait_ms = 200\n' >"$work/caseledger.toml"
# The seed webhook endpoint is on 127.0.0.1 (nothing listens on port 9): loopback is allowed.
"$binary" serve --config "$work/caseledger.toml" --listen 127.0.0.1:0 --data-dir "$work/data" \
    --webhook-allow-cidr 127.0.0.0/8 \
    2>"$work/serve.log" >/dev/null &
pid=$!
address=
for _ in $(seq 1 120); do
    address=$(grep -o 'caseledger listening on http://[0-9.:]*' "$work/serve.log" | head -1 | sed 's|.*http://||' || true)
    [[ -n $address ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log"; echo "the service exited"; exit 1; }
    sleep 0.5
done
[[ -n $address ]] || { cat "$work/serve.log"; echo "the service did not start"; exit 1; }
base="http://$address"
admin=$(cat "$work/data/initial-admin-token")
echo "service at $base"

token() { # role [department] → a new token of that role
    local body
    if [[ -n ${2:-} ]]; then
        body="{\"name\":\"schemathesis $1\",\"role\":\"$1\",\"department\":\"$2\"}"
    else
        body="{\"name\":\"schemathesis $1\",\"role\":\"$1\"}"
    fi
    curl -sf -X POST "$base/v1/tokens" -H "Authorization: Bearer $admin" \
        -H 'Content-Type: application/json' -d "$body" | jq -r .token
}
officer=$(token officer)
supervisor=$(token supervisor)
auditor=$(token auditor)
partner=$(token partner hrss)
# A case shared with hrss, with an opinion letter, and a webhook endpoint: the "pinned" runs use
# them as their path parameters, so that commands and reads reach real state (200, 409, 412…)
# and not only the 404 of a random id.
case_id=$(curl -sf -X POST "$base/v1/cases" -H "Authorization: Bearer $officer" \
    -H 'Content-Type: application/json' \
    -d '{"title":"Schemathesis seed case","category":"wage_arrears","description":"seed","source":"hotline","employer":{"name":"Seed Co."},"complainant":{"name":"Seed Complainant","phone":"13800000000"}}' |
    jq -r .case_id)
curl -sf -X POST "$base/v1/cases/$case_id/refer" -H "Authorization: Bearer $officer" \
    -H 'Content-Type: application/json' -d '{"department":"hrss","reason":"seed"}' >/dev/null
curl -sf -X POST "$base/v1/cases/$case_id/letters" -H "Authorization: Bearer $officer" \
    -H 'Content-Type: application/json' \
    -d '{"kind":"opinion","recipient":"Seed Co.","content":"Pay the wages."}' >/dev/null
letter_id=$(curl -sf "$base/v1/cases/$case_id" -H "Authorization: Bearer $officer" | jq -r '.letters[0].letter_id')
webhook_id=$(curl -sf -X POST "$base/v1/webhooks" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' \
    -d '{"url":"http://127.0.0.1:9/hook","department":"hrss"}' | jq -r .id)
{
    cat .ci/schemathesis.toml
    printf '\n[parameters]\n"path.id" = "%s"\n"path.letter_id" = "%s"\n"path.webhook_id" = "%s"\n' \
        "$case_id" "$letter_id" "$webhook_id"
} >"$work/pinned.toml"

failed=0
# One worker: with two, Python 3.11's `ast.parse` (which Hypothesis uses to describe lambdas)
# is not thread-safe and a run can die of "AST constructor recursion depth mismatch".
run_as() { # name config token [extra schemathesis args…]
    local name=$1 config=$2 bearer=$3
    shift 3
    echo
    echo "--- schemathesis as $name"
    if ! timeout --signal=INT --kill-after=30 "$run_timeout" \
        schemathesis --config-file "$config" run "$base/openapi.json" \
        -H "Authorization: Bearer $bearer" \
        --checks not_a_server_error,response_schema_conformance,status_code_conformance \
        --max-examples "$examples" --seed "$seed" --workers 1 \
        --suppress-health-check all --no-shrink "$@"; then
        echo "schemathesis as $name: FAILED"
        failed=1
    fi
}
# The admin may revoke any token, its own too, and a revoked token makes the rest of the run
# a wall of 401s: the admin's runs leave token revocation out, and a second admin token covers
# it alone (it finds no real token id there, so nothing is revoked).
broad=.ci/schemathesis.toml
pinned=$work/pinned.toml
run_as "admin, random ids" "$broad" "$admin" --exclude-name 'DELETE /v1/tokens/{token_id}'
run_as "admin, token revocation" "$broad" "$(token admin)" --include-name 'DELETE /v1/tokens/{token_id}'
run_as "admin, seeded ids" "$pinned" "$admin" --exclude-name 'DELETE /v1/tokens/{token_id}'
run_as "supervisor, seeded ids" "$pinned" "$supervisor"
run_as "officer, seeded ids" "$pinned" "$officer"
run_as "auditor, seeded ids" "$pinned" "$auditor"
run_as "partner (hrss), seeded ids" "$pinned" "$partner"

stop_service
if grep -E 'panicked' "$work/serve.log" >/dev/null; then
    echo "a request handler panicked:"
    grep -E 'panicked' "$work/serve.log" | head -20
    failed=1
fi
if [[ $failed -ne 0 ]]; then
    echo "schemathesis: FAILED"
    exit 1
fi
echo "schemathesis: no 5xx, every response conforms to the OpenAPI document"
