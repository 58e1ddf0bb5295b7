# Sourced by guest tests. fail REASON: records the reason and exits non-zero.
fail() {
    echo "FAIL: $*"
    echo "$*" >> /tmp/fail-reason
    exit 1
}
# Value of kernel command-line option NAME=VALUE, or empty.
cmdline_opt() {
    for arg in $(cat /proc/cmdline); do
        case $arg in "$1"=*) echo "${arg#*=}" ;; esac
    done
}
