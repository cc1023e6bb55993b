#!/usr/bin/env python3
"""Check that the two halves are apart, from one run of halves_apart.

usage: check_regions.py APP_STDOUT REGION_DUMP_STDERR NRANKS

- every range the application printed (its link map, heap, thread stack,
  raw mmap) lies in mappings the lower half classified as upper;
- every mapping of the MPI and network libraries and of the lower half's
  program, and the original [stack] and [heap], is classified lower;
- the break never moved; the registry never overflowed; every rank dumped.
"""
import re
import sys

LOWER_LIBS = re.compile(r"/(libmpich|libucp|libucs|libuct|libucm|libhwloc|libnuma|mana-lh-mpich)[^/]*$")


def parse_dump(path):
    regions, brk, ends = {}, {}, {}
    line_re = re.compile(r"^mana-regions: (\d+) (upper|lower) ([0-9a-f]+)-([0-9a-f]+) (\S+) ?(.*)$")
    with open(path) as f:
        for line in f:
            m = line_re.match(line.rstrip("\n"))
            if m:
                rank, owner, start, end, perms, name = m.groups()
                regions.setdefault(int(rank), []).append((int(start, 16), int(end, 16), owner, name))
                continue
            m = re.match(r"^mana-regions: (\d+) brk start=(\w+) now=(\w+) (\w+)", line)
            if m:
                brk[int(m.group(1))] = m.group(4)
                continue
            m = re.match(r"^mana-regions: (\d+) end .*overflows=(\d+)", line)
            if m:
                ends[int(m.group(1))] = int(m.group(2))
    return regions, brk, ends


def main():
    app_out, dump, nranks = sys.argv[1], sys.argv[2], int(sys.argv[3])
    regions, brk, ends = parse_dump(dump)
    errors = []
    for rank in range(nranks):
        if rank not in regions or rank not in ends:
            errors.append(f"rank {rank}: no region dump")
            continue
        if brk.get(rank) != "unchanged":
            errors.append(f"rank {rank}: brk moved")
        if ends[rank] != 0:
            errors.append(f"rank {rank}: region registry overflowed {ends[rank]} times")
        lower_count = 0
        for start, end, owner, name in regions[rank]:
            lower_count += owner == "lower"
            is_stub = "/lib/mana/stub/" in name
            if ((LOWER_LIBS.search(name) and not is_stub) or name in ("[stack]", "[heap]")) and owner != "lower":
                errors.append(f"rank {rank}: {name} {start:x}-{end:x} classified {owner}, expected lower")
        if lower_count < 20:
            errors.append(f"rank {rank}: only {lower_count} lower mappings: MPI did not initialise in the lower half?")
    seen_ranges = 0
    with open(app_out) as f:
        for line in f:
            if line.startswith("FAIL"):
                errors.append(line.strip())
            m = re.match(r"^app-range (\d+) ([0-9a-f]+) ([0-9a-f]+) (.*)$", line.strip())
            if not m:
                continue
            seen_ranges += 1
            rank, start, end, what = int(m.group(1)), int(m.group(2), 16), int(m.group(3), 16), m.group(4)
            for rs, re_, owner, name in regions.get(rank, []):
                if rs < end and re_ > start and owner != "upper":
                    errors.append(f"rank {rank}: application range {what} {start:x}-{end:x} overlaps lower "
                                  f"mapping {rs:x}-{re_:x} {name}")
    if seen_ranges < 10 * nranks:
        errors.append(f"only {seen_ranges} application ranges printed")
    for e in errors:
        print("check_regions:", e)
    print(f"check_regions: {nranks} ranks, {seen_ranges} application ranges, "
          f"{sum(len(v) for v in regions.values())} mappings: {'FAIL' if errors else 'OK'}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
