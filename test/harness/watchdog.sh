#!/usr/bin/env bash
# Keeps the harness's servers from outliving the Node process that started them.
#
# Node spawns this script detached (so it leads its own process group) with a
# pipe on stdin whose other end only Node holds. When Node exits for any reason,
# SIGKILL included, the pipe reaches end-of-file and the script cleans up. A
# blocking read is used instead of polling the parent pid so that nothing runs
# while the parent is alive and the reaction is immediate.
#
#   watchdog.sh run STOP_SIGNAL GRACE_MS PID_FILE -- COMMAND [ARGS...]
#     Runs COMMAND in this process group, writes its pid to PID_FILE and exits
#     with its status. SIGTERM to this script forwards STOP_SIGNAL to COMMAND.
#     When the parent goes away COMMAND gets STOP_SIGNAL too, and the whole
#     group is killed if COMMAND has not ended GRACE_MS later. The script
#     stays COMMAND's parent (rather than exec'ing it) so that every process is
#     reaped by its own parent: some init processes never reap orphans.
#
#   watchdog.sh janitor DIR
#     When the parent goes away, waits for the process groups listed in
#     DIR/.pgids to end (killing them after ten seconds) and removes DIR.
set -u

mode=$1
shift
exec 3<&0 </dev/null

# group_running PGID: whether a live (not zombie) process is in the group.
group_running() {
  local stat fields
  for stat in /proc/[0-9]*/stat; do
    read -r stat 2>/dev/null <"$stat" || continue
    read -r -a fields <<<"${stat##*) }"
    [[ ${fields[2]} == "$1" && ${fields[0]} != Z ]] && return 0
  done
  return 1
}

case $mode in
  run)
    stop_signal=$1
    grace_ms=$2
    pid_file=$3
    shift 4
    "$@" 3<&- &
    child=$!
    echo "$child" >"$pid_file"
    trap 'kill -s "$stop_signal" "$child" 2>/dev/null' TERM INT HUP
    (
      trap '' TERM INT HUP
      # Returns only at end-of-file: the parent has exited.
      while read -r -u 3 _; do :; done
      kill -s "$stop_signal" "$child" 2>/dev/null
      for ((waited = 0; waited < grace_ms; waited += 100)); do
        kill -0 "$child" 2>/dev/null || exit 0
        sleep 0.1
      done
      kill -KILL 0 2>/dev/null
    ) &
    watcher=$!
    exec 3<&-
    status=0
    while :; do
      wait "$child"
      status=$?
      kill -0 "$child" 2>/dev/null || break
    done
    kill -KILL "$watcher" 2>/dev/null
    wait "$watcher" 2>/dev/null
    exit "$status"
    ;;
  janitor)
    dir=$1
    trap 'exit 0' TERM INT HUP
    while read -r -u 3 _; do :; done
    groups=$(cat "$dir/.pgids" 2>/dev/null)
    for _ in {1..100}; do
      alive=0
      for group in $groups; do
        group_running "$group" && alive=1 && break
      done
      [[ $alive == 0 ]] && break
      sleep 0.1
    done
    for group in $groups; do
      kill -KILL -- "-$group" 2>/dev/null
    done
    rm -rf -- "$dir"
    ;;
  *)
    echo "watchdog.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac
