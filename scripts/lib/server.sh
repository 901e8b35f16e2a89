# Sourced by the scripts that check the built server from outside: runs it on a fresh temporary
# SQLite database. The sourcing script defines `log` and `bin` (the server binary).
#
#   start_server DIR [NAME=VALUE...]   starts "$bin" with those environment variables, its
#                                      database and output in DIR; sets server_pid and server_url
#                                      (http://127.0.0.1:PORT) once it listens
#   stop_server                        stops it (TERM, then KILL after 5 s), if it runs

server_pid=
server_url=

start_server() {
    local dir=$1 address=
    shift
    env "$@" "$bin" serve --listen 127.0.0.1:0 --database "sqlite://$dir/server.db" >"$dir/server.out" 2>"$dir/server.err" &
    server_pid=$!
    for _ in $(seq 300); do
        address=$(sed -n 's/.*"listening":"\([^"]*\)".*/\1/p' "$dir/server.out" | head -n 1)
        [[ -n $address ]] && break
        if ! kill -0 "$server_pid" 2>/dev/null; then
            log "the server exited before listening"
            tail -n 40 "$dir/server.err" >&2
            return 1
        fi
        sleep 0.1
    done
    [[ -n $address ]] || { log "the server did not print its listening line within 30 s"; return 1; }
    server_url="http://$address"
}

stop_server() {
    [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null || return 0
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
}
