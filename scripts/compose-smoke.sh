#!/usr/bin/env bash
# Checks a running compose.yaml project (docker compose up --build -d) from
# outside, as README "Several replicas" describes it:
#   1. both replicas answer GET /api/v1/health;
#   2. exactly one leads ("leader election: this process leads" and
#      "leader: gained" in its log; the other's health says "follower:");
#   3. a sandbox top-up and a balance-paid order made through replica B are
#      seen through replica A, and the leader's worker delivers the order;
#   4. `docker kill` of the leader: the other replica takes over within
#      LEADER_TTL (the time is printed) and delivers a new order;
#   5. the killed replica, started again, rejoins as a follower.
# Sandbox only (TON_NETWORK=sandbox, the default): it moves simulated TON.
# Needs docker, curl and jq. Exits non-zero at the first failed check.
set -euo pipefail

project=${COMPOSE_PROJECT_NAME:-starsbot}
declare -A url=([starsbot-a]=${A_URL:-http://127.0.0.1:8081} [starsbot-b]=${B_URL:-http://127.0.0.1:8082})

for tool in docker curl jq; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is needed"; exit 1; }
done

step() { printf '\n== %s\n' "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
fail() { printf '   FAIL: %s\n' "$*"; exit 1; }
now_ms() { date +%s%3N; }

# container SERVICE: the id of the service's container in the project.
container() {
	local id
	id=$(docker ps -aq --filter "label=com.docker.compose.project=$project" \
		--filter "label=com.docker.compose.service=$1" | head -1)
	[ -n "$id" ] || fail "no container for service $1 in compose project $project"
	echo "$id"
}

# health SERVICE: the replica's /api/v1/health body, or nothing.
health() { curl -fsS --max-time 5 "${url[$1]}/api/v1/health" 2>/dev/null || true; }

# wait_healthy SERVICE SECONDS
wait_healthy() {
	local deadline=$(($(date +%s) + $2))
	until [ "$(health "$1" | jq -r '.data.status' 2>/dev/null)" = ok ]; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "$1 (${url[$1]}) not healthy after $2 s: $(health "$1")"
		sleep 1
	done
}

# follows SERVICE: its health reports the leader-only components as a follower's.
follows() { health "$1" | jq -e '[.data.components[].detail // "" | startswith("follower:")] | any' >/dev/null; }

# logs SERVICE [SINCE]: the replica's log (stderr; stdout has the keys)
# since SINCE, by default since its container last started: docker keeps a
# restarted container's earlier output too. Read it whole into a variable
# before grepping: grep -q on a pipe would end docker logs with SIGPIPE,
# which pipefail reports as a failure.
logs() {
	local c
	c=$(container "$1")
	# shellcheck disable=SC2069 # meant: stderr to the caller, stdout dropped
	docker logs --since "${2:-$(docker inspect -f '{{.State.StartedAt}}' "$c")}" "$c" 2>&1 >/dev/null
}

# elections SERVICE [SINCE]: the replica's "leader election:" log lines.
elections() {
	local l
	l=$(logs "$@")
	grep 'msg="leader election: ' <<<"$l" || true
}

# leads SERVICE: its last election line says it leads.
leads() {
	local l
	l=$(elections "$1")
	[[ $(tail -1 <<<"$l") == *'this process leads'* ]]
}

# log_ms LINE: the time= of a log line, in Unix milliseconds.
log_ms() { date -d "$(sed -n 's/^time=\([^ ]*\).*/\1/p' <<<"$1")" +%s%3N; }

# api SERVICE METHOD PATH [BODY]: an orders-API call with the sandbox
# partner's key; prints the body, fails unless "ok" is true.
api() {
	local out
	out=$(curl -sS --max-time 30 -X "$2" "${url[$1]}$3" -H "Authorization: Bearer $key" \
		-H "Idempotency-Key: $(cat /proc/sys/kernel/random/uuid)" ${4:+-d "$4"})
	jq -e '.ok == true' >/dev/null <<<"$out" || fail "$2 $3 on $1: $out"
	echo "$out"
}

# find_key: the sandbox partner's osk_ key and memo. Every replica's start
# issues new keys and revokes the older ones (README, "Several replicas"),
# so take the last printed (stdout) that the API still accepts.
find_key() {
	local s k
	key=
	for s in starsbot-a starsbot-b; do
		while read -r k; do
			if curl -fsS --max-time 5 "${url[$s]}/api/v1/balance" -H "Authorization: Bearer $k" >/dev/null 2>&1; then
				key=$k
			fi
		done < <(docker logs "$(container "$s")" 2>/dev/null | sed -n 's/^  orders API (osk_): //p')
	done
	[ -n "$key" ] || fail "no working sandbox key in the replicas' output (is TON_NETWORK sandbox, TELEGRAM_TOKEN empty?)"
	memo=$(api starsbot-a GET /api/v1/balance | jq -r '.data.topup_memo')
}

# order_on SERVICE: a balance-paid Stars order through it; prints its id.
order_on() {
	api "$1" POST /api/v1/orders/stars '{"recipient_username":"pandus","quantity":50,"payment_method":"balance"}' | jq -r '.data.id'
}

# wait_completed SERVICE ID SECONDS: the order, read through SERVICE, completes.
wait_completed() {
	local deadline=$(($(date +%s) + $3)) st
	while :; do
		st=$(api "$1" GET "/api/v1/orders/$2" | jq -r '.data.status')
		[ "$st" = completed ] && return
		[ "$(date +%s)" -lt "$deadline" ] || fail "order $2 is $st on $1 after $3 s"
		sleep 1
	done
}

step "project $project: $(docker version -f 'Docker {{.Server.Version}}') ; images:"
for s in db starsbot-a starsbot-b; do
	printf '   %-10s %s\n' "$s" "$(docker inspect -f '{{.Config.Image}}' "$(container "$s")")"
done
ttl=$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$(container starsbot-a)" | sed -n 's/^LEADER_TTL=//p')
ttl_s=$(sed -n 's/^\([0-9]*\)s$/\1/p' <<<"$ttl")
[ -n "$ttl_s" ] || fail "LEADER_TTL $ttl: this script reads whole seconds only (e.g. 10s)"
echo "   LEADER_TTL=$ttl"

step "1. both replicas answer GET /api/v1/health"
for s in starsbot-a starsbot-b; do
	wait_healthy "$s" 60
	ok "$s ${url[$s]}: $(health "$s" | jq -c '.data | {status, components: (.components | map_values(.detail // .status))}')"
done

step "2. exactly one replica leads"
leaders=()
for s in starsbot-a starsbot-b; do
	if leads "$s"; then
		leaders+=("$s")
		follows "$s" && fail "$s: its log says it leads, its health says follower"
		gained=$(logs "$s" | grep -c 'msg="leader: gained' || true)
		[ "$gained" -gt 0 ] || fail "$s leads but logged no leader: gained"
		ok "$s leads: $(elections "$s" | tail -1 | sed -n 's/.*\(term=[0-9]*\).*/\1/p'); \"leader: gained\" for $gained components"
	else
		follows "$s" || fail "$s: neither leads nor reports itself a follower"
		ok "$s follows"
	fi
done
[ "${#leaders[@]}" -eq 1 ] || fail "${#leaders[@]} leaders: ${leaders[*]-}"
leader=${leaders[0]}
if [ "$leader" = starsbot-a ]; then other=starsbot-b; else other=starsbot-a; fi

step "3. money and an order through starsbot-b, seen through starsbot-a"
find_key
before=$(api starsbot-a GET /api/v1/balance | jq -r '.data.balance_nanoton')
dep=$(curl -sS --max-time 10 "${url[starsbot-b]}/sandbox/v1/deposits" -d "{\"memo\":\"$memo\",\"amount_ton\":\"1\"}")
echo "   sandbox top-up of 1 TON to $memo through starsbot-b: $dep"
deadline=$(($(date +%s) + 30))
until [ "$(api starsbot-a GET /api/v1/balance | jq -r '.data.balance_nanoton')" -ge $((before + 1000000000)) ]; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "the top-up was not credited within 30 s (balance still $(api starsbot-a GET /api/v1/balance | jq -c .data))"
	sleep 1
done
ok "credited by the leader's watcher, seen through starsbot-a: balance $before -> $(api starsbot-a GET /api/v1/balance | jq -r '.data.balance_nanoton') nanoTON"
id=$(order_on starsbot-b)
ok "order $id created through starsbot-b"
api starsbot-a GET "/api/v1/orders/$id" >/dev/null
ok "order $id found through starsbot-a"
wait_completed starsbot-a "$id" 30
ok "order $id completed (delivered by the leader, $leader), seen through starsbot-a"

step "4. docker kill the leader ($leader); $other must lead within LEADER_TTL ($ttl)"
killed_at=$(now_ms)
docker kill "$(container "$leader")" >/dev/null
line=
deadline=$(($(date +%s) + 3 * ttl_s))
while [ -z "$line" ]; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "$other did not lead within $((3 * ttl_s)) s of the kill"
	sleep 0.2
	line=$(elections "$other" "$(date -d "@$((killed_at / 1000))" +%s)" | grep 'this process leads' | head -1 || true)
done
takeover=$(($(log_ms "$line") - killed_at))
printf '   takeover: %d.%03d s after docker kill (LEADER_TTL %s)\n' $((takeover / 1000)) $((takeover % 1000)) "$ttl"
[ "$takeover" -le $((ttl_s * 1000)) ] || fail "takeover $takeover ms exceeds LEADER_TTL"
ok "$other leads: $(sed -n 's/.*\(term=[0-9]*\).*/\1/p' <<<"$line")"
deadline=$(($(date +%s) + 10))
while follows "$other"; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "$other leads by its log but its health still says follower"
	sleep 0.5
done
ok "$other's health reports the leader-only components as its own"
id2=$(order_on "$other")
wait_completed "$other" "$id2" 30
ok "order $id2 through $other completed by the new leader"

step "5. start $leader again: it rejoins as a follower"
restarted_at=$(date +%s)
state=$(docker inspect -f '{{.State.Status}}' "$(container "$leader")")
echo "   $leader after the kill: $state"
[ "$state" = running ] || docker start "$(container "$leader")" >/dev/null
wait_healthy "$leader" 60
# A follower tries for the lock every LEADER_TTL/3: give it a few tries.
sleep $((ttl_s / 3 + 2))
[[ $(elections "$leader" "$restarted_at") != *'this process leads'* ]] || fail "$leader took the leadership back"
follows "$leader" || fail "$leader's health does not say follower"
leads "$other" || fail "$other no longer leads"
ok "$leader is up and follows; $other still leads"
find_key
[ "$(api "$leader" GET "/api/v1/orders/$id" | jq -r '.data.status')" = completed ] || fail "order $id not completed on $leader"
[ "$(api "$leader" GET "/api/v1/orders/$id2" | jq -r '.data.status')" = completed ] || fail "order $id2 not completed on $leader"
ok "orders $id and $id2 completed, seen through $leader"

printf '\nall checks passed; takeover %d.%03d s (LEADER_TTL %s)\n' $((takeover / 1000)) $((takeover % 1000)) "$ttl"
