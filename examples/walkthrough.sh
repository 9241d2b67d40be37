#!/usr/bin/env bash
# A web meeting from booking to a registered delegation, through the HTTP
# API of the running app, printing each request and answer:
#
#   1. the would-be delegate books the web-meeting delegations counter (B5)
#      and receives the access code by SMS (N1);
#   2. joins too early (M1: the sentence of the rule), then on time, and
#      waits in the waiting room (M3);
#   3. the operator takes the booking in charge, consent is given (M4), both
#      parties are attested (M5), the two PDFs are uploaded (M6), and the
#      operator completes the meeting: the delegation is registered (M7);
#   4. the delegation is active, the booking served (B8), and the grantor,
#      who keeps a mobile number in their contacts (N7), is told by SMS and
#      in their personal area; the delegate acts for the grantor (D9) and
#      the audit trail shows it;
#   5. the grantor tries to revoke online too early (D8), the operator
#      revokes at the counter, the grantor is told again (N7), and the
#      act-as session stops working (D9).
#
# Start the app first, in another terminal, from the repository's root:
#
#   cargo run --release -p deleghe-app -- serve --dev
#
# then run `bash examples/walkthrough.sh`. It needs curl and jq. Every run
# uses new random fiscal codes and the first free slot, so it can be run
# again on the same database. Settings:
#   DELEGHE_URL         the app (default http://127.0.0.1:8080)
#   DELEGHE_BIN         the `deleghe` binary that mints tokens
#                       (default target/release/deleghe)
#   DELEGHE_SMS_OUTBOX  the SMS file of `serve --dev` (default sms.jsonl in
#                       the development folder: $XDG_RUNTIME_DIR/deleghe,
#                       else ${TMPDIR:-/tmp}/deleghe-dev-$(id -u))
set -euo pipefail
cd "$(dirname "$0")/.."

BASE="${DELEGHE_URL:-http://127.0.0.1:8080}"
BIN="${DELEGHE_BIN:-target/release/deleghe}"
# The development folder of `serve --dev` (crates/app/src/config/dev_files.rs).
if [[ "${XDG_RUNTIME_DIR:-}" == /* ]]; then
  DEV_DIR="$XDG_RUNTIME_DIR/deleghe"
else
  DEV_DIR="${TMPDIR:-/tmp}/deleghe-dev-$(id -u)"
fi
SMS="${DELEGHE_SMS_OUTBOX:-$DEV_DIR/sms.jsonl}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "walkthrough: $tool is needed" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "walkthrough: no $BIN: run 'cargo build --release -p deleghe-app' (or set DELEGHE_BIN)" >&2; exit 1; }

# ---------------------------------------------------------------- helpers

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }

# The check character of a fiscal code body (I1: odd/even tables).
cf_check() {
  local body="$1" sum=0 i c v
  local odd=(1 0 5 7 9 13 15 17 19 21 2 4 18 20 11 3 6 8 12 14 16 10 22 25 24 23)
  for ((i = 0; i < 15; i++)); do
    c="${body:i:1}"
    if [[ "$c" =~ [0-9] ]]; then v=$c; else v=$(( $(printf '%d' "'$c") - 65 )); fi
    if (( i % 2 == 0 )); then sum=$(( sum + odd[v] )); else sum=$(( sum + v )); fi
  done
  printf "\\$(printf '%03o' $(( 65 + sum % 26 )))"
}

# A random valid fiscal code with the given six letters.
random_cf() {
  local months=ABCDEHLMPRST
  local body
  body=$(printf '%s%02d%s%02d%s%03d' "$1" $(( 40 + RANDOM % 60 )) "${months:RANDOM%12:1}" \
    $(( 1 + RANDOM % 28 )) "$(printf "\\$(printf '%03o' $(( 65 + RANDOM % 26 )))")" $(( RANDOM % 1000 )))
  printf '%s%s' "$body" "$(cf_check "$body")"
}

token() { "$BIN" token "$@"; }

# The log position the last write answered with (its `Position` header):
# every request names it in `If-Min-Position`, so that the lists and notices
# read show what the walkthrough wrote (docs/APP.md, "Reading your writes").
POSITION=0
remember_position() {
  local p
  p=$(tr -d '\r' <"$WORK/headers" | awk -F': ' 'tolower($1) == "position" { print $2 }' | tail -n1)
  if [[ "$p" =~ ^[0-9]+$ ]] && (( p > POSITION )); then POSITION=$p; fi
}

# call WHO METHOD PATH [JSON]: prints the request and the answer; the body
# of the answer is left in $WORK/body and its status in $STATUS.
call() {
  local who="$1" method="$2" path="$3" body="${4:-}" tok
  tok="${TOKENS[$who]:-}"
  printf '\n\033[36m>>> %s %s\033[0m  (%s)\n' "$method" "$path" "$who"
  local args=(-sS -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$method" "$BASE$path"
    -H "If-Min-Position: $POSITION")
  [ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
  if [ -n "$body" ]; then
    echo "$body" | jq .
    args+=(-H 'Content-Type: application/json' --data "$body")
  fi
  STATUS=$(curl "${args[@]}")
  remember_position
  printf '\033[33m<<< %s\033[0m\n' "$STATUS"
  # A bearer token is shown shortened: it is a credential.
  if [ -s "$WORK/body" ]; then
    jq 'if type == "object" and has("token") then .token = (.token[0:20] + "...") else . end' \
      "$WORK/body" 2>/dev/null || head -c 300 "$WORK/body"
  fi
}

# sms_of KEY: waits for the SMS with idempotency key KEY in the SMS file
# and prints it (the dispatcher sends what is due every half second).
sms_of() {
  local line=""
  for _ in $(seq 1 40); do
    if [ -f "$SMS" ]; then
      line=$(grep -F "\"$1\"" "$SMS" || true)
      [ -n "$line" ] && break
    fi
    sleep 0.25
  done
  [ -n "$line" ] || { echo "walkthrough: no SMS $1 in $SMS (is the app in --dev?)" >&2; exit 1; }
  jq . <<<"$line"
}

# expect STATUS: stops the walkthrough if the last answer had another status.
expect() {
  if [ "$STATUS" != "$1" ]; then
    echo "walkthrough: expected $1, got $STATUS" >&2
    exit 1
  fi
}

upload() {
  local who="$1" path="$2" file="$3"
  printf '\n\033[36m>>> POST %s\033[0m  (%s, application/pdf, %s bytes)\n' "$path" "$who" "$(wc -c <"$file")"
  STATUS=$(curl -sS -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X POST "$BASE$path" \
    -H "Authorization: Bearer ${TOKENS[$who]}" -H 'Content-Type: application/pdf' \
    --data-binary "@$file")
  remember_position
  printf '\033[33m<<< %s\033[0m\n' "$STATUS"
  jq . "$WORK/body"
}

# The development clock answers operators only.
set_clock() {
  call operator PUT /dev/clock "{\"now\": \"$1\"}"
  expect 204
}

# A blank one-page PDF of about $2 bytes (padded with a comment), with the
# cross-reference table that makes it parse as a PDF (M6).
make_pdf() {
  local file="$WORK/$1.pdf" o1 o2 o3 xref
  printf '%%PDF-1.4\n%% %s\n' "$1" >"$file"
  o1=$(($(wc -c <"$file")))
  printf '1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n' >>"$file"
  o2=$(($(wc -c <"$file")))
  printf '2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n' >>"$file"
  o3=$(($(wc -c <"$file")))
  printf '3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n' >>"$file"
  { printf '%%'; head -c "$2" /dev/zero | tr '\0' ' '; printf '\n'; } >>"$file"
  xref=$(($(wc -c <"$file")))
  printf 'xref\n0 4\n0000000000 65535 f \n%010d 00000 n \n%010d 00000 n \n%010d 00000 n \n' \
    "$o1" "$o2" "$o3" >>"$file"
  printf 'trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n' "$xref" >>"$file"
  echo "$file"
}

# ---------------------------------------------------------------- the people

curl -sf "$BASE/health" >/dev/null || {
  echo "walkthrough: the app does not answer at $BASE; start it with:" >&2
  echo "  cargo run --release -p deleghe-app -- serve --dev" >&2
  exit 1
}

DELEGATE=$(random_cf VRDLGU)
GRANTOR=$(random_cf RSSMRA)
declare -A TOKENS
TOKENS[nobody]=""
TOKENS[delegate]=$(token "$DELEGATE" --role citizen --auth spid)
TOKENS[grantor]=$(token "$GRANTOR" --role citizen --auth cie)
TOKENS[operator]=$(token "$(random_cf OPRTOR)" --role operator --office "DCM NAPOLI")

bold "The delegate is $DELEGATE, the grantor $GRANTOR; an operator of DCM NAPOLI serves."

bold "0. The development clock: Monday 30 November 2026, 10:00 in Rome"
set_clock "2026-11-30T09:00:00Z"

bold "   The grantor keeps a mobile number in their contacts (N7)"
call grantor PUT /v1/me/contacts '{"phone": "+39 347 765 4321", "io": false}'
expect 200

bold "1. The delegate looks for a free slot of the web-meeting delegations counter"
call delegate GET /v1/counters
expect 200
call delegate GET "/v1/counters/deleghe-web-meeting/slots?from=2026-12-01&to=2026-12-03"
expect 200
SLOTS=$(curl -sS -H "If-Min-Position: $POSITION" -H "Authorization: Bearer ${TOKENS[delegate]}" \
  "$BASE/v1/counters/deleghe-web-meeting/slots?from=2026-12-01&to=2027-01-31")
START=$(jq -r '[.items[] | select(.free > 0)][0].start // empty' <<<"$SLOTS")
[ -n "$START" ] || { echo "walkthrough: no free slot left until January: remove deleghe.sqlite" >&2; exit 1; }
START_EPOCH=$(date -u -d "$START" +%s)
# at MINUTES: the slot's start plus MINUTES (negative: before), in UTC.
at() { date -u -d "@$(( START_EPOCH + $1 * 60 ))" +%Y-%m-%dT%H:%M:%SZ; }
day() { date -u -d "@$(( START_EPOCH + $1 * 86400 ))" +%Y-%m-%d; }
START_UTC=$(at 0)
bold "   The first free slot starts at $START"

bold "2. The delegate books it for the grantor (B5)"
call delegate POST /v1/bookings "$(jq -n --arg start "$START" --arg g "$GRANTOR" '{
  counter: "deleghe-web-meeting", start: $start, mode: "web_meeting",
  reason: "Registrazione delega SPID", phone: "+39 333 123 4567",
  grantor: {fiscal_code: $g, first_name: "Maria", last_name: "Rossi"}}')"
expect 201
BOOKING=$(jq -r .id "$WORK/body")

bold "3. The SMS with the access code arrives (N1), from $SMS"
CODE=""
for _ in $(seq 1 40); do
  if [ -f "$SMS" ]; then
    LINE=$(grep -F "\"booking:$BOOKING:sms:confirmation\"" "$SMS" || true)
    if [ -n "$LINE" ]; then
      jq . <<<"$LINE"
      CODE=$(jq -r .text <<<"$LINE" | sed -n 's/.*Codice di accesso al web meeting: \([A-Z0-9]*\).*/\1/p')
      break
    fi
  fi
  sleep 0.25
done
[ -n "$CODE" ] || { echo "walkthrough: no SMS for booking $BOOKING in $SMS (is the app in --dev?)" >&2; exit 1; }
bold "   The access code is $CODE"

call delegate GET /v1/me/notices
expect 200
printf '\n\033[36m>>> GET /v1/bookings/%s/ticket\033[0m  (delegate)\n' "$BOOKING"
TICKET=$(curl -sS -o "$WORK/ticket.pdf" -w '%{http_code} %{content_type}, %{size_download} bytes' \
  -H "Authorization: Bearer ${TOKENS[delegate]}" "$BASE/v1/bookings/$BOOKING/ticket")
printf '\033[33m<<< %s\033[0m\n' "$TICKET"

MEETING="/v1/bookings/$BOOKING/meeting"
bold "4. Twenty minutes before the slot the delegate tries to join (M1)"
set_clock "$(at -20)"
call delegate POST "$MEETING/join" "{\"code\": \"$CODE\"}"
expect 422

bold "5. Ten minutes before, with the code from the SMS (M2), to the waiting room (M3)"
set_clock "$(at -10)"
call delegate POST "$MEETING/join" "{\"code\": \"$CODE\"}"
expect 200

bold "6. At the booked time the operator takes the booking in charge (M3)"
set_clock "$START_UTC"
call operator GET "/v1/bookings?office=DCM%20NAPOLI&date=$(day 0)"
expect 200
call operator POST "$MEETING/take-in-charge"
expect 200

bold "7. Recording consent (M4) and both parties attested (M5)"
call delegate POST "$MEETING/consent" '{"recording": true}'
expect 200
call operator POST "$MEETING/attendance" '{"grantor_present": true, "delegate_present": true, "grantor_able_to_consent": true}'
expect 200

bold "8. The two PDFs through the meeting (M6)"
upload delegate "$MEETING/documents?kind=aa08" "$(make_pdf aa08 180000)"
expect 201
upload delegate "$MEETING/documents?kind=identity_document" "$(make_pdf identity 950000)"
expect 201

bold "9. The operator completes the meeting: the delegation is registered (M7)"
set_clock "$(at 20)"
call operator POST "$MEETING/complete"
expect 200
DELEGATION=$(jq -r .delegation.id "$WORK/body")
call delegate GET "$MEETING"
expect 200

bold "10. The delegation is active, and the booking served (B8)"
call grantor GET "/v1/delegations/$DELEGATION"
expect 200
call delegate GET "/v1/delegations?delegate=$DELEGATE"
expect 200
call delegate GET "/v1/bookings/$BOOKING"
expect 200

bold "    The grantor is told, by SMS and in the personal area (N7)"
sms_of "delegation:$DELEGATION:registered:grantor:mobile"
call grantor GET /v1/me/notices
expect 200

bold "11. The delegate acts for the grantor (D9)"
call delegate POST /v1/sessions/act-as "{\"grantor\": \"$GRANTOR\"}"
expect 200
TOKENS[delegate_for_grantor]=$(jq -r .token "$WORK/body")
call delegate_for_grantor GET "/v1/delegations?grantor=$GRANTOR"
expect 200
SLOT2=$(curl -sS -H "If-Min-Position: $POSITION" -H "Authorization: Bearer ${TOKENS[delegate_for_grantor]}" \
  "$BASE/v1/counters/pensioni-roma/slots?from=$(day 1)&to=$(day 30)" \
  | jq -r '[.items[] | select(.free > 0)][0].start')
call delegate_for_grantor POST /v1/bookings "$(jq -n --arg start "$SLOT2" '{
  counter: "pensioni-roma", start: $start, mode: "phone_callback",
  reason: "Informazioni sulla pensione", phone: "+39 333 123 4567"}')"
expect 201
bold "    Every action on behalf of the grantor is in the audit trail: who, for whom, what, when"
call grantor GET "/v1/audit?grantor=$GRANTOR"
expect 200

bold "12. The grantor tries to revoke online the same day (D8: only after 30 days)"
call grantor POST "/v1/delegations/$DELEGATION/revoke"
expect 422

bold "13. The operator revokes it at the counter, at any time (D8)"
call operator POST "/v1/counter/delegations/$DELEGATION/revoke"
expect 200
bold "    The grantor is told of this too (N7)"
sms_of "delegation:$DELEGATION:revoked:grantor:mobile"

bold "14. The act-as session ends with the delegation (D9)"
call delegate_for_grantor GET "/v1/delegations?grantor=$GRANTOR"
expect 403

bold "15. Back to real time"
call operator DELETE /dev/clock
expect 204

bold "Done: booking $BOOKING, delegation $DELEGATION."
