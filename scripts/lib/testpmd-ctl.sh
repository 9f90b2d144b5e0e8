# Drives interactive testpmd sessions by what they print, not by the clock: each command waits
# for the prompt that follows its output, and counters are read until they stop moving.
# testpmd writes its prompt straight to the descriptor after the command's (line-buffered)
# output, so a new prompt means the command is done.
#
# The caller defines `send NAME LINE` (a line to NAME's stdin) and `out_file NAME` (the file
# NAME's output goes to).

prompts() { grep -o 'testpmd> ' "$(out_file "$1")" 2>/dev/null | wc -l; }

cmd() { # cmd NAME LINE: sends LINE, waits (up to 10 s) for the next prompt; CMD_OUT is what it printed
  local file before from i
  file=$(out_file "$1")
  before=$(prompts "$1")
  from=$(stat -c %s "$file")
  send "$1" "$2"
  for i in $(seq 1 200); do
    if [ "$(prompts "$1")" -gt "$before" ]; then
      CMD_OUT=$(tail -c +$((from + 1)) "$file")
      return 0
    fi
    sleep 0.05
  done
  echo "  ($1's testpmd printed no prompt within 10 s of \"$2\")" >&2
  return 1
}

links_up() { # links_up NAME: waits (up to 10 s) until NAME's testpmd reports every port's link up
  local i
  for i in $(seq 1 50); do
    cmd "$1" "show port info all"
    grep -q 'Link status: up' <<<"$CMD_OUT" && ! grep -q 'Link status: down' <<<"$CMD_OUT" && return 0
    sleep 0.2
  done
  echo "  ($1's testpmd did not report its links up within 10 s)"
}

until_settled() { # until_settled READER...: runs READER (it prints counters) until two reads in a row agree and are not all zero, up to 5 s
  local prev="" cur i
  for i in $(seq 1 50); do
    cur=$("$@")
    if [ -n "${cur//[0 ]/}" ] && [ "$cur" = "$prev" ]; then return 0; fi
    prev=$cur
    sleep 0.1
  done
}
