# Helpers shared by the macro-benchmark scripts that time densevm beside QEMU TCG
# (translate_peer.sh, huge_frames.sh). Sourced, not run:
#   . "$(dirname "$0")/lib.sh"
#   read -r secs faults < <(perf_run --no-thp "${qemu[@]}" -append "workload=hello")

# The load average's three figures, printed beside every figure a script measures.
load() { cut -d' ' -f1-3 /proc/loadavg; }

# One line naming when and where a table was measured.
machine_line() {
  echo "$(date -u '+%F %H:%M UTC'); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); THP $(cat /sys/kernel/mm/transparent_hugepage/enabled); load average $(load)"
}

# Runs its command with transparent huge pages off (PR_SET_THP_DISABLE = 41, kept across exec).
thp_off=(python3 -c 'import ctypes, os, sys; ctypes.CDLL(None).prctl(41, 1, 0, 0, 0); os.execvp(sys.argv[1], sys.argv[1:])')

# "CPU-seconds faults" of one run of a command: user + system time (perf's task-clock) and
# host page faults. --no-thp runs it with THP off. A failing command still prints a line.
perf_run() {
  local t pre=()
  [[ $1 == --no-thp ]] && { pre=("${thp_off[@]}"); shift; }
  t=$(mktemp)
  "${pre[@]}" perf stat -x, -e task-clock,page-faults -o "$t" "$@" >/dev/null 2>&1 || true
  awk -F, '/task-clock/ { s = $1 / 1000 } /page-faults/ { f = $1 } END { print s, f }' "$t"
  rm -f "$t"
}

# The median of three figures given as arguments.
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

# QEMU TCG on the microvm machine running densevm's guest image, one argument a line (the
# workload goes after it in -append):  mapfile -t qemu < <(qemu_microvm "$elf")
qemu_microvm() {
  printf '%s\n' qemu-system-x86_64 -M microvm -m 256M -nodefaults -no-reboot -nographic -serial stdio \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$1"
}
