# Shared by scripts/*.sh: a virtualenv with the project installed, and a Redis to talk to.
VENV="${HUEYCTL_VENV:-.venv}"

# ensure_venv [EXTRAS]: $VENV with the project installed editable, with EXTRAS ("test" by
# default; "" for the project alone, all the demo needs). pip is quiet: its output goes to
# $VENV/pip.log and is shown only when the install fails.
ensure_venv() {
  local extras="${1-test}" py="${PYTHON:-python3}" sum spec="."
  sum="$(cksum <pyproject.toml | cut -d' ' -f1)"
  local stamp="$VENV/.installed-$sum${extras:+-$extras}"
  # An install with the test extra holds everything the project alone needs.
  if [ -e "$stamp" ] || { [ -z "$extras" ] && [ -e "$VENV/.installed-$sum-test" ]; }; then
    return 0
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    "$py" -m venv "$VENV"
  fi
  [ -n "$extras" ] && spec=".[$extras]"
  echo "setting up $VENV: pip install -e '$spec' (a minute at most; log in $VENV/pip.log) ..." >&2
  if ! { "$VENV/bin/python" -m pip install -q --disable-pip-version-check -U pip &&
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$spec"; } \
    >"$VENV/pip.log" 2>&1; then
    cat "$VENV/pip.log" >&2
    echo "pip install -e '$spec' failed (log: $VENV/pip.log)" >&2
    exit 1
  fi
  touch "$stamp"
}

_redis_ping() {  # url
  "$VENV/bin/python" - "$1" <<'PY' >/dev/null 2>&1
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()
PY
}

ensure_redis_server() {  # why it is needed (for the message)
  command -v redis-server >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "$1; installing redis-server ..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >&2
  else
    echo "$1 and no redis-server: install Redis (e.g. 'sudo apt-get install redis-server' or 'brew install redis')" >&2
    exit 69
  fi
}

ensure_redis() {
  export HUEYCTL_TEST_REDIS_URL="${HUEYCTL_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
  if _redis_ping "$HUEYCTL_TEST_REDIS_URL"; then return 0; fi
  ensure_redis_server "no Redis at $HUEYCTL_TEST_REDIS_URL (or set HUEYCTL_TEST_REDIS_URL)"
  local dir port
  dir="$(mktemp -d)"
  port="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  trap 'kill "$(cat "'"$dir"'/redis.pid")" 2>/dev/null; rm -rf "'"$dir"'"' EXIT
  export HUEYCTL_TEST_REDIS_URL="redis://127.0.0.1:$port/15"
  for _ in $(seq 50); do _redis_ping "$HUEYCTL_TEST_REDIS_URL" && return 0; sleep 0.1; done
  echo "started redis-server on port $port but it does not answer; see $dir/redis.log" >&2
  exit 69
}

ensure_test_tools() {
  # jq runs the docs' recipes; promtool (Debian's prometheus) checks hueyctl metrics' output; chromium and
  # chromium-driver run the browser test of top --serve. Installed when missing and
  # we are root; otherwise those tests skip and say why.
  local missing=()
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  command -v jq >/dev/null 2>&1 || missing+=(jq)  # the docs' recipes (tests/system/test_recipes.py)
  [ "${#missing[@]}" = 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} for the metrics and browser tests ..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >&2 \
      || echo "could not install ${missing[*]}: those tests skip" >&2
  else
    echo "no ${missing[*]} (not root): the promtool and browser tests skip" >&2
  fi
}
