#!/bin/bash
# `kick run` as a user meets it: every bad option, missing or unreadable file
# gives exactly one line on stderr, nothing on stdout and a non-zero exit,
# and leaves no file behind; `--help` prints the usage and exits 0. Then, when
# this machine's /dev/kvm can run the probe guest, kick runs on a terminal (a
# pty): the terminal is raw while kick runs and restored afterwards, and a
# SIGWINCH reaches the virtio console as the terminal's new size.
#   tests/test_kick_cli.sh KICK PROBE-IMAGE
set -uo pipefail
kick=$(realpath "$1") probe=$(realpath "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 cases=0

bad() { # expected-exit-status description args...
    local want=$1 what=$2; shift 2
    cases=$((cases + 1))
    local before after rc
    before=$(ls -A "$tmp/work")
    (cd "$tmp/work" && timeout 20 "$kick" run "$@" </dev/null >"$tmp/out" 2>"$tmp/err")
    rc=$?
    after=$(ls -A "$tmp/work")
    local nerr nout
    nerr=$(wc -l <"$tmp/err") nout=$(wc -c <"$tmp/out")
    if [ "$rc" -ne "$want" ] || [ "$nerr" -ne 1 ] || [ "$nout" -ne 0 ] || [ "$before" != "$after" ] ||
       ! grep -q '^kick run: ' "$tmp/err"; then
        echo "FAIL $what: exit $rc (want $want), $nerr stderr line(s), $nout stdout byte(s)," \
             "files before [$before] after [$after]: $(head -3 "$tmp/err" | tr '\n' '|')"
        fails=$((fails + 1))
    else
        echo "ok   $what: $(cat "$tmp/err")"
    fi
}

mkdir -p "$tmp/work"
printf 'x' >"$tmp/work/tiny.img"
head -c 1048576 /dev/zero >"$tmp/work/disk.img"
echo "not a kernel" >"$tmp/notkernel"
k=(--kernel "$probe")

bad 2 "no --kernel"
bad 2 "unknown option" --frobnicate
bad 2 "option missing its value" --kernel
bad 1 "missing kernel" --kernel "$tmp/nonexistent"
bad 1 "kernel that is no kernel" --kernel "$tmp/notkernel"
bad 1 "kernel is a directory" --kernel "$tmp"
bad 1 "missing initrd" "${k[@]}" --initrd "$tmp/nonexistent"
bad 1 "missing disk" "${k[@]}" --disk "path=$tmp/nonexistent"
bad 1 "disk is a directory" "${k[@]}" --disk "path=$tmp"
bad 1 "disk smaller than a sector" "${k[@]}" --disk "path=tiny.img"
bad 2 "disk with an unknown key" "${k[@]}" --disk "path=disk.img,bogus=1"
bad 2 "disk without path" "${k[@]}" --disk "ro=on"
bad 2 "disk ro neither on nor off" "${k[@]}" --disk "path=disk.img,ro=maybe"
bad 2 "memory not a size" "${k[@]}" --memory 12X
bad 2 "memory too large" "${k[@]}" --memory 4000G
bad 2 "zero cpus" "${k[@]}" --cpus 0
bad 2 "too many cpus" "${k[@]}" --cpus 1000
bad 2 "cpus not a number" "${k[@]}" --cpus two
bad 2 "rng rate zero" "${k[@]}" --rng rate=0
bad 2 "rng rate not a number" "${k[@]}" --rng rate=fast
bad 2 "rng rate too high" "${k[@]}" --rng rate=2G
bad 2 "rng with an unknown key" "${k[@]}" --rng=speed=5
bad 2 "rng given twice" "${k[@]}" --rng rate=4K --rng
bad 2 "unknown net backend" "${k[@]}" --net bogus
bad 2 "unknown transport" "${k[@]}" --transport foo
bad 2 "unknown console kind" "${k[@]}" --console nonsense
bad 1 "console socket in a missing directory" "${k[@]}" --console "virtio,name=a,path=$tmp/no/dir/sock"

cases=$((cases + 1))
if "$kick" run --help >"$tmp/out" 2>"$tmp/err" && grep -q -- '--kernel' "$tmp/out" && [ ! -s "$tmp/err" ]; then
    echo "ok   --help: usage on stdout, exit 0"
else
    echo "FAIL --help: $(head -2 "$tmp/err")"; fails=$((fails + 1))
fi

# On a terminal. Needs a /dev/kvm that runs the probe (this machine's does).
if [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ -f "$probe" ] && command -v python3 >/dev/null; then
    cases=$((cases + 1))
    if python3 - "$kick" "$probe" "$tmp/tty.err" <<'PY'
import fcntl, os, pty, signal, struct, subprocess, sys, termios, time
kick, probe, errpath = sys.argv[1:4]
master, slave = pty.openpty()
fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
before = termios.tcgetattr(slave)
with open(errpath, "w") as err:
    p = subprocess.Popen([kick, "run", "--verbose", "--kernel", probe, "--rng",
                          "--console", "virtio"], stdin=slave, stdout=slave, stderr=err,
                         start_new_session=True)
    problems = []
    out = b""
    deadline = time.time() + 60
    resized = False
    os.set_blocking(master, False)
    while p.poll() is None and time.time() < deadline:
        try:
            out += os.read(master, 65536)
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            break
        # once the guest prints, kick's signal handling is in place
        if not resized and b"kick probe" in out:
            during = termios.tcgetattr(slave)
            if during[3] & termios.ICANON or during[3] & termios.ECHO:
                problems.append("terminal not raw while kick runs")
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 117, 0, 0))
            p.send_signal(signal.SIGWINCH)
            resized = True
    if p.poll() is None:
        p.kill()
        problems.append("kick did not exit within 60 s")
    p.wait()
    while True:  # what kick wrote just before it exited
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
after = termios.tcgetattr(slave)
if after != before:
    problems.append("terminal settings not restored on exit")
log = open(errpath).read()
if "console: terminal resized to 117x31" not in log:
    problems.append("no 'terminal resized to 117x31' in kick's log (SIGWINCH lost, or kick "
                    "exited first)")
# 1: the probe passed, 3: a probe rule failed (timing rules can, on a loaded
# machine); either way the guest ran to its end through the debug port
if p.returncode not in (1, 3):
    problems.append("kick exit %d, want 1 or 3 (the probe's own exit)" % p.returncode)
if b"PROBE-SUMMARY" not in out:
    problems.append("no PROBE-SUMMARY on the terminal")
for m in problems:
    print("  " + m)
sys.exit(1 if problems else 0)
PY
    then
        echo "ok   on a terminal: raw while running, restored after, SIGWINCH resized the console to 117x31"
    else
        echo "FAIL on a terminal (kick's log: $tmp/tty.err)"; tail -5 "$tmp/tty.err"
        fails=$((fails + 1))
    fi
else
    echo "skip on a terminal: /dev/kvm cannot be used here"
fi

echo "kick cli: $((cases - fails)) of $cases cases passed"
[ "$fails" -eq 0 ]
