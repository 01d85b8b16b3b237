#!/usr/bin/env bash
# Fails when a guest ELF contains an instruction the densevm interpreter does not implement.
#
#   check-insns.sh kernel densevm-guest.elf     # ring-0 code: integer + listed system insns
#   check-insns.sh user user.elf                # ring-3 code: integer + SYSCALL
#   check-insns.sh --list kernel densevm-guest.elf   # print the mnemonics used
#
# The 32-bit PVH stub (section .boot32) runs only under PVH loaders and is skipped. Mnemonics
# are objdump's AT&T names; prefixes are split off and only REP STOS/MOVS may carry REP.
set -euo pipefail

list=0
if [ "${1:-}" = "--list" ]; then list=1; shift; fi
if [ $# -ne 2 ] || { [ "$1" != kernel ] && [ "$1" != user ]; }; then
  echo "usage: $0 [--list] kernel|user ELF" >&2
  exit 2
fi
mode=$1 elf=$2
objdump=${OBJDUMP:-objdump}

integer='mov[bwlq]?|movabs[bwlq]?|movs[bw][wlq]|movslq|movz[bw][wlq]|lea[wlq]?|push[wq]?|pop[wq]?'
integer+='|(add|sub|adc|sbb|and|or|xor|not|neg|inc|dec|cmp|test|imul|mul|div|idiv)[bwlq]?'
integer+='|(shl|shr|sal|sar|rol|ror|shld|shrd|bt|bts|btr|btc|xchg|bswap)[bwlq]?'
integer+='|cmov[a-z]+|set[a-z]+|j[a-z]+|call[q]?|ret[q]?|leave[q]?|nop[wlq]?'
integer+='|cltq|cqto|cltd|cwtl|cbtw|cwtd'
system='cli|sti|hlt|lgdt|lidt|ltr|in[bwl]?|out[bwl]?|pushf[q]?|popf[q]?|iretq|syscall'
system+='|sysret[q]?|swapgs|rdmsr|wrmsr|cpuid|rdtsc|pause|invlpg|lret[q]?'
if [ "$mode" = kernel ]; then allowed="^($integer|$system)\$"; else allowed="^($integer|syscall|pause)\$"; fi

# One "mnemonic<TAB>operands<TAB>address<TAB>instruction" per instruction, prefixes kept.
insns=$("$objdump" -d --no-show-raw-insn -M att "$elf" | awk -F'\t' '
  /^Disassembly of section / { skip = ($0 ~ /section \.boot32:/); next }
  skip || NF < 2 || $1 !~ /^ *[0-9a-f]+:$/ { next }
  {
    n = split($2, w, /[ ]+/); pre = ""; i = 1
    while (i < n && w[i] ~ /^(rep|repz|repnz|repe|repne|lock|cs|ds|ss|es|fs|gs|data16|addr32|notrack|bnd|rex(\.[WRXB]+)?)$/) {
      pre = pre w[i] " "; i++
    }
    ops = ""; for (j = i + 1; j <= n; j++) ops = ops w[j]
    sub(/^ +/, "", $1)
    print pre w[i] "\t" ops "\t" $1 "\t" $2
  }')

bad=$(printf '%s\n' "$insns" | awk -F'\t' -v allowed="$allowed" -v mode="$mode" '
  {
    m = $1; ops = $2; why = ""
    if (m ~ /^(rep|repz|repe) /) {
      if (m !~ /^rep (stos|movs)[bwlq]?$/) why = "REP only on STOS/MOVS"
    } else if (m ~ /^lock /) {
      why = "LOCK prefix"
    } else {
      sub(/^((cs|ds|ss|es|fs|gs|data16|addr32|notrack|bnd|rex[.A-Z]*) )+/, "", m)
      if (m !~ allowed) why = "mnemonic not allowed"
    }
    if (ops ~ /%(xmm|ymm|zmm|st|mm[0-7]|k[0-7]|dr|tr|bnd)/) why = "non-integer or debug register"
    if (ops ~ /%cr([15-9]|1[0-5])/) why = "control register other than CR0/2/3/4"
    if (ops ~ /,%cs$/) why = "write to CS"
    if (mode == "user" && ops ~ /%cr|,%[defgs]s$/) why = "system register in ring 3"
    if (why != "") print "  " $3 " " $4 "    (" why ")"
  }')

if [ -n "$bad" ]; then
  echo "check-insns: $elf ($mode) uses instructions densevm does not implement:" >&2
  printf '%s\n' "$bad" | head -n 40 >&2
  exit 1
fi
if [ $list = 1 ]; then printf '%s\n' "$insns" | cut -f1 | sed -E 's/^((cs|ds|data16) )+//' | sort -u; fi
exit 0
