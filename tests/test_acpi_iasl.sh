#!/bin/bash
# The judge for kick's ACPI tables: Debian's ACPICA tools. For a few CPU and
# slot counts, tests/acpi_dump writes every table reached from the RSDP;
# `iasl -d` must disassemble each one cleanly, and the disassembly must
# compile back (`iasl`) without errors or warnings. A data table compiled back
# must equal the original byte for byte, except its checksum and the
# compiler id/revision iasl stamps in. (iasl cannot read a bare RSDP from a
# file; tests/test_acpi.c checks that one.)
# Usage: test_acpi_iasl.sh ACPI_DUMP
set -euo pipefail
dump=${1:?usage: test_acpi_iasl.sh ACPI_DUMP}
command -v iasl >/dev/null || { echo "iasl not found (apt-get install acpica-tools)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

check_config() {
    local cpus=$1 slots=$2 dir="$work/c$1"
    mkdir -p "$dir"
    "$dump" "$dir" "$cpus" "$slots"
    local tables=(xsdt facp facs dsdt apic mcfg)
    for t in "${tables[@]}"; do
        local dat="$dir/$t.dat"
        [ -s "$dat" ] || { bad "$cpus cpus: no $t table"; continue; }
        if ! (cd "$dir" && iasl -d "$t.dat" >"$t.dis.log" 2>&1); then
            bad "$cpus cpus: iasl -d $t failed"; sed 's/^/    /' "$dir/$t.dis.log"; continue
        fi
        if grep -Eiq 'error|warning|invalid' "$dir/$t.dis.log" || grep -q '\*\*\*\*' "$dir/$t.dsl"; then
            bad "$cpus cpus: iasl -d $t complained"
            grep -Ei 'error|warning|invalid|\*\*\*\*' "$dir/$t.dis.log" "$dir/$t.dsl" | head -5
        fi
        mkdir -p "$dir/rt"
        if ! (cd "$dir" && iasl -p "rt/$t" "$t.dsl" >"$t.asm.log" 2>&1) ||
           ! grep -q ' 0 Errors, 0 Warnings' "$dir/$t.asm.log"; then
            bad "$cpus cpus: $t.dsl does not compile back cleanly"
            grep -Ei 'error|warning' "$dir/$t.asm.log" | head -5
            continue
        fi
        [ "$t" = dsdt ] && continue # iasl re-encodes names and integers its own way
        # cmp -l offsets are 1-based: 10 is the checksum, 29-36 compiler id/revision
        local diffs
        diffs=$(cmp -l "$dat" "$dir/rt/$t.aml" 2>&1 | awk '$1 != 10 && ($1 < 29 || $1 > 36)' || true)
        if [ -n "$diffs" ]; then
            bad "$cpus cpus: $t compiled back differs from kick's"; echo "$diffs" | head -5
        fi
    done
    for name in '_S5' 'Device (PCI0)' '_PRT' 'Device (MRES)' 'EisaId ("PNP0A08")' \
                'WordBusNumber' 'QWordMemory' 'Memory32Fixed'; do
        grep -qF "$name" "$dir/dsdt.dsl" || bad "$cpus cpus: DSDT has no $name"
    done
    local cpudevs
    cpudevs=$(grep -c '"ACPI0007"' "$dir/dsdt.dsl" || true)
    [ "$cpudevs" = "$cpus" ] || bad "$cpus cpus: DSDT has $cpudevs processor devices"
    local lapics
    lapics=$(grep -c 'Subtable Type : 00 \[Processor Local APIC\]' "$dir/apic.dsl" || true)
    [ "$lapics" = "$cpus" ] || bad "$cpus cpus: MADT has $lapics local APICs"
    echo "checked: $cpus cpus, slots $slots: ${tables[*]}"
}

check_config 1 0x2
check_config 4 0xfffffffe
check_config 254 0xfffffffe
exit $fail
