"""The Open MPI lower half's side of the crossing, for gen_wrappers.py.

The call table speaks MPICH's ABI (include/mana/mpich_abi.h). For a lower
half linked with Open MPI, this module writes:

  abi_consts.h        an index for every constant of mpi_constants.txt,
                      and the groups they form
  abi_consts_mpich.c  each constant's MPICH value (built with MPICH's mpi.h)
  abi_consts_ompi.c   and its Open MPI value (built with Open MPI's mpi.h)
  lower_ompi_table.c  one adapter per table entry, which turns MPICH-ABI
                      arguments into Open MPI's, calls Open MPI and turns
                      the results back; and the function that fills the
                      table with them

The translation of each parameter follows from its role (gen_wrappers.py
classify_params) and, for integers that carry an MPI constant, from its
name (VALUE_PARAMS below). What no rule can express is written by hand in
lower-half/ompi_abi_calls.c, named in openmpi.txt.
"""
import re

KINDS = ("handle", "value", "flags")
# The handle groups, in the order of enum abi_kind (lower-half/ompi_abi.h).
HANDLE_GROUPS = ("comm", "group", "datatype", "op", "request", "errhandler", "info", "win", "message")
VID_TO_GROUP = {"VID_COMM": "comm", "VID_GROUP": "group", "VID_DATATYPE": "datatype", "VID_OP": "op",
                "VID_REQUEST": "request", "VID_ERRHANDLER": "errhandler", "VID_INFO": "info",
                "VID_WIN": "win", "VID_MESSAGE": "message"}

# Integer parameters that carry a constant of a value group, by name.
# Error codes are translated everywhere except in MPI_Abort, where the
# "errorcode" is the job's exit status.
VALUE_PARAMS = {
    "source": "rank", "dest": "rank", "root": "rank", "target_rank": "rank", "rank": "rank",
    "rank_source": "rank", "rank_dest": "rank",
    "split_type": "splittype", "order": "order", "lock_type": "locktype", "assert": "mode",
    "typeclass": "typeclass", "errorcode": "errclass", "errorclass": "errclass", "combiner": "combiner",
}
# Output integers of a value group, by function and name (an "int *" whose
# role the name alone cannot tell).
VALUE_OUTS = {("MPI_Topo_test", "status"): "topology"}
# Arrays of ranks: (function, parameter) -> direction.
RANK_ARRAYS = {("MPI_Group_translate_ranks", "ranks1"): "in", ("MPI_Group_translate_ranks", "ranks2"): "out"}
# Buffers that may be MPI_IN_PLACE.
INPLACE_BUFFERS = ("sendbuf", "recvbuf")
# The array of statuses and how many entries it has after the call.
STATUS_ARRAY_LEN = {"MPI_Waitall": "count", "MPI_Testall": "count", "MPI_Waitsome": "*outcount",
                    "MPI_Testsome": "*outcount"}


class AbiError(Exception):
    pass


def data_lines(path):
    """(where, line) for each line of PATH that is not blank or a comment."""
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if line and not line.startswith("#"):
                yield f"{path}:{lineno}", line


def parse_constants(path):
    groups = []
    for where, line in data_lines(path):
        m = re.match(r"^([a-z]+)\s+([a-z]+)\s*:\s*(.+)$", line)
        if not m or m.group(2) not in KINDS:
            raise AbiError(f"{where}: expected '<group> handle|value|flags : NAME...'")
        names = []
        for tok in m.group(3).split():
            absent = tok.endswith("?")
            name = tok.rstrip("?")
            if not re.match(r"^MPIX?_[A-Z0-9_]+$", name):
                raise AbiError(f"{where}: '{tok}' is not an MPI constant's name")
            names.append((name, absent))
        if any(g["name"] == m.group(1) for g in groups):
            raise AbiError(f"{where}: group '{m.group(1)}' is listed twice")
        groups.append({"name": m.group(1), "kind": m.group(2), "names": names})
    for h in HANDLE_GROUPS:
        if not any(g["name"] == h and g["kind"] == "handle" for g in groups):
            raise AbiError(f"{path}: the handle group '{h}' is missing")
    for g in set(VALUE_PARAMS.values()) | set(VALUE_OUTS.values()):
        if not any(x["name"] == g for x in groups):
            raise AbiError(f"{path}: the value group '{g}' is missing")
    return groups


def parse_openmpi(path, funcs):
    known = {fn["name"] for fn in funcs}
    spec = {"absent": set(), "as": {}, "by-hand": set()}
    for where, line in data_lines(path):
        words = line.split()
        if words[0] not in spec or len(words) < 2 or (words[0] == "as" and len(words) != 3):
            raise AbiError(f"{where}: expected 'absent NAME...', 'as NAME OMPI_NAME' or 'by-hand NAME...'")
        if words[1] not in known:
            raise AbiError(f"{where}: {words[1]} is not in the API list")
        if words[0] == "as":
            spec["as"][words[1]] = words[2]
        else:
            for w in words[1:]:
                if w not in known:
                    raise AbiError(f"{where}: {w} is not in the API list")
                spec[words[0]].add(w)
    return spec


HEADER = "/* Generated by mpi-wrappers/gen_wrappers.py from mpi-wrappers/mpi_constants.txt: do not edit. */\n"


def gen_consts_header(groups):
    out = [HEADER, "#ifndef MANA_ABI_CONSTS_H\n#define MANA_ABI_CONSTS_H\n\n#include <stdint.h>\n\n",
           "enum abi_group {\n"]
    out += [f"    ABI_G_{g['name'].upper()},\n" for g in groups]
    out.append("    ABI_NGROUPS\n};\n\n")
    out.append("/* Every constant, by index; each group's are consecutive. */\nenum abi_const {\n")
    for g in groups:
        for name, _ in g["names"]:
            out.append(f"    ABI_C_{g['name'].upper()}_{name},\n")
    out.append("    ABI_NCONSTS\n};\n\n")
    out.append("struct abi_group_range {\n    uint16_t first, count;\n    uint8_t flags; /* bits or-ed together */\n"
               "    const char *name;\n};\n"
               "extern const struct abi_group_range abi_groups[ABI_NGROUPS];\n"
               "/* MPICH's value of each constant (handles are ints in its ABI). */\n"
               "extern const int32_t abi_mpich[ABI_NCONSTS];\n"
               "/* Open MPI's value (an object's address for a handle), and whether\n"
               " * Open MPI 4.1 has it at all. */\n"
               "extern const intptr_t abi_ompi[ABI_NCONSTS];\n"
               "extern const uint8_t abi_ompi_has[ABI_NCONSTS];\n\n#endif\n")
    return "".join(out)


def gen_consts_mpich(groups):
    out = [HEADER, "#include <mpi.h>\n\n#include \"abi_consts.h\"\n\n",
           "#ifndef MPICH_VERSION\n#error \"abi_consts_mpich.c must be built with MPICH's mpi.h\"\n#endif\n\n",
           "const struct abi_group_range abi_groups[ABI_NGROUPS] = {\n"]
    first = 0
    for g in groups:
        out.append(f"    {{{first}, {len(g['names'])}, {1 if g['kind'] == 'flags' else 0}, \"{g['name']}\"}},\n")
        first += len(g["names"])
    out.append("};\n\nconst int32_t abi_mpich[ABI_NCONSTS] = {\n")
    for g in groups:
        for name, _ in g["names"]:
            out.append(f"    (int32_t)({name}),\n")
    out.append("};\n")
    return "".join(out)


def gen_consts_ompi(groups):
    out = [HEADER, "#include <mpi.h>\n\n#include \"abi_consts.h\"\n\n",
           "#ifndef OPEN_MPI\n#error \"abi_consts_ompi.c must be built with Open MPI's mpi.h\"\n#endif\n\n",
           "const intptr_t abi_ompi[ABI_NCONSTS] = {\n"]
    for g in groups:
        for name, absent in g["names"]:
            out.append("    0, /* absent */\n" if absent else f"    (intptr_t)({name}),\n")
    out.append("};\n\nconst uint8_t abi_ompi_has[ABI_NCONSTS] = {\n")
    for g in groups:
        out.append("    " + " ".join("0," if absent else "1," for _, absent in g["names"]) + "\n")
    out.append("};\n")
    return "".join(out)


# --- the adapters ---------------------------------------------------------

def ctype(p):
    """P's C type with Open MPI's meaning of its MPI_ names, as a cast."""
    return p.decl(name="").strip()


def abi_type(text):
    return re.sub(r"\b(MPIX?_[A-Z][A-Za-z0-9_]*)\b", r"mana_\1", text)


def handle_group(p):
    return "ABI_" + VID_TO_GROUP[p.kind].upper()


def len_code(fn, p, d):
    """P's length, over the adapter's parameters (the lower half's Open MPI
    handles are o_X or in_X: see gen_adapter; the face asks through the
    application's own handles)."""
    expr = p.len

    def helper(m):
        h, arg = m.group(1), m.group(2).strip()
        if h == "sum":
            arr, n = (s.strip() for s in arg.split(","))
            return f"abi_sum({arr}, {n})"
        which = {"peers": "ABI_PEERS_ALL", "indeg": "ABI_PEERS_IN", "outdeg": "ABI_PEERS_OUT",
                 "cartdim": "ABI_PEERS_CARTDIM"}[h]
        return f"abi_peers({d['peers_arg']}{arg}, {which})"
    return re.sub(r"\b(peers|indeg|outdeg|cartdim|sum)\(([^()]*)\)", helper, expr)


def status_dir(fn, p):
    if p.const:
        return "in"
    if fn["name"].startswith("MPI_Status_set_"):
        return "inout"
    return "out"


FREES = re.compile(r"^MPI_(\w+_free|\w+_free_keyval|Keyval_free)$")


def inout_handle(fn, i, p):
    """Whether handle pointer P is changed in place rather than written:
    the roles say so for generated wrappers; a hand-written wrapper's
    free function (MPI_Op_free) has its handle first."""
    return p.role in ("hinptr", "hfree", "hconsume", "hreqs") or \
        (p.role == "hout" and i == 0 and FREES.match(fn["name"]) is not None)


# The two directions an adapter translates in. LOWER: the Open MPI lower
# half's table entries (MPICH-ABI parameters, Open MPI's call). FACE: the
# Open MPI face of the upper half (Open MPI-ABI parameters, libmana's
# MPICH-ABI call; face_ompi.h). Each names the types of the call's locals
# and the helpers that turn the signature's values into the call's and
# back.
LOWER = {
    "prefix": "ompi_abi_", "sig": abi_type, "local": lambda t: t, "status": "MPI_Status",
    "status_ignore": "MPI_STATUS_IGNORE", "statuses_ignore": "MPI_STATUSES_IGNORE", "success": "MPI_SUCCESS",
    "keyval_invalid": "MPI_KEYVAL_INVALID", "no_mem": "MANA_ABI_ERR_NO_MEM",
    "h_in": "abi_in", "h_out": "abi_out", "h_null": "abi_null", "h_update": "abi_update",
    "v_in": "abi_value_in", "v_out": "abi_value_out", "st_ignored": "abi_status_ignored",
    "st_in": "abi_status_in", "st_out": "abi_status_out", "sts": "abi_statuses", "sts_out": "abi_statuses_out",
    "buffer": "abi_buffer", "rc": "abi_rc", "cast": lambda p: ctype(p), "peers_arg": "in_",
    "sts_done": "abi_scratch_done",
}
FACE = {
    "prefix": "face_", "sig": lambda t: t, "local": abi_type, "status": "mana_MPI_Status",
    "status_ignore": "FACE_MPICH_STATUS_IGNORE", "statuses_ignore": "FACE_MPICH_STATUS_IGNORE",
    "success": "0", "keyval_invalid": "FACE_MPICH_KEYVAL_INVALID", "no_mem": "MPI_ERR_NO_MEM",
    "h_in": "face_in", "h_out": "face_out", "h_null": "face_null", "h_update": "face_update",
    "v_in": "abi_value_out", "v_out": "abi_value_in", "st_ignored": "face_status_ignored",
    "st_in": "face_status_in", "st_out": "face_status_out", "sts": "face_statuses",
    "sts_out": "face_statuses_out", "buffer": "face_buffer", "rc": "face_rc",
    "cast": lambda p: abi_type(ctype(p)), "peers_arg": "", "sts_done": "face_statuses_done",
}


def gen_adapter(fn, target, d=LOWER):
    """One adapter: D's signature side in, D's call, results back."""
    name = fn["name"]
    params = fn["params"]
    decl = d["sig"](fn["decl"])
    ret = d["sig"](fn["ret"])
    loc, st = d["local"], d["status"]
    pre_h, pre, args, post, done = [], [], [], [], []
    for i, p in enumerate(params):
        n = p.name
        grp = VALUE_PARAMS.get(n)
        if p.role == "hin" and p.kind == "VID_KEYVAL":
            args.append(f"{d['v_in']}(ABI_G_KEYVAL, {n})")
        elif p.role == "hin":
            pre_h.append(f"    {loc(p.base)} in_{n} = ({loc(p.base)}){d['h_in']}({handle_group(p)}, {n});\n")
            args.append(f"in_{n}")
        elif inout_handle(fn, i, p) and not p.arr:
            if p.kind == "VID_KEYVAL":
                pre.append(f"    int o_{n} = {d['v_in']}(ABI_G_KEYVAL, *{n});\n")
                post.append(f"    *{n} = {d['v_out']}(ABI_G_KEYVAL, o_{n});\n")
            else:
                pre.append(f"    {loc(p.base)} o_{n} = ({loc(p.base)}){d['h_in']}({handle_group(p)}, *{n});\n")
                post.append(f"    *{n} = {d['h_update']}({handle_group(p)}, *{n}, o_{n});\n")
            args.append(f"&o_{n}")
        elif p.role == "hout":
            if p.kind == "VID_KEYVAL":
                pre.append(f"    int o_{n} = {d['keyval_invalid']};\n")
                post.append(f"    if (rc == {d['success']})\n        *{n} = {d['v_out']}(ABI_G_KEYVAL, o_{n});\n")
            else:
                pre.append(f"    {loc(p.base)} o_{n} = ({loc(p.base)}){d['h_null']}({handle_group(p)});\n")
                post.append(f"    if (rc == {d['success']})\n        *{n} = {d['h_out']}({handle_group(p)}, o_{n});\n")
            args.append(f"&o_{n}")
        elif p.role in ("harr_in", "harr_out", "hreqs"):
            g = handle_group(p)
            pre.append(f"    {loc(p.base)} s_{n}[ABI_SMALL];\n"
                       f"    int n_{n} = {n} ? (int)({len_code(fn, p, d)}) : 0;\n"
                       f"    {loc(p.base)} *o_{n} = {n} ? abi_scratch(s_{n}, n_{n}, sizeof *o_{n}) : NULL;\n"
                       f"    if ({n} && !o_{n})\n        return {d['no_mem']};\n")
            if p.role != "harr_out":
                pre.append(f"    for (int i = 0; i < n_{n}; i++)\n"
                           f"        o_{n}[i] = ({loc(p.base)}){d['h_in']}({g}, {n}[i]);\n")
            if p.role == "harr_out":
                post.append(f"    if (rc == {d['success']})\n        for (int i = 0; i < n_{n}; i++)\n"
                            f"            {n}[i] = {d['h_out']}({g}, o_{n}[i]);\n")
            elif p.role == "hreqs":
                post.append(f"    for (int i = 0; i < n_{n}; i++)\n"
                            f"        {n}[i] = {d['h_update']}({g}, {n}[i], o_{n}[i]);\n")
            done.append(f"    abi_scratch_done(o_{n}, s_{n});\n")
            args.append(f"o_{n}")
        elif p.role == "status" and p.arr:
            cnt = [q.name for q in params if q.name in ("count", "incount")][0]
            pre.append(f"    {st} s_{n}[ABI_SMALL], *o_{n};\n"
                       f"    if ({d['sts']}(s_{n}, {n}, {cnt}, &o_{n}) != 0)\n        return {d['no_mem']};\n")
            post.append(f"    if (o_{n} != {d['statuses_ignore']})\n"
                        f"        {d['sts_out']}(o_{n}, {n}, {STATUS_ARRAY_LEN[name]});\n")
            done.append(f"    {d['sts_done']}(o_{n}, s_{n});\n")
            args.append(f"o_{n}")
        elif p.role == "status":
            sd = status_dir(fn, p)
            pre.append(f"    {st} st_{n};\n")
            if sd == "out":
                pre.append(f"    {st} *o_{n} = {d['st_ignored']}({n}) ? {d['status_ignore']} : &st_{n};\n")
            else:
                pre.append(f"    {st} *o_{n} = &st_{n};\n    {d['st_in']}({n}, o_{n});\n")
            if sd != "in":
                post.append(f"    if (o_{n} != {d['status_ignore']})\n        {d['st_out']}(o_{n}, {n});\n")
            args.append(f"o_{n}")
        elif p.role == "ptr" and n in INPLACE_BUFFERS:
            args.append(f"{d['buffer']}({n})")
        elif p.role == "scalar" and grp and not (name == "MPI_Abort" and n == "errorcode"):
            args.append(f"{d['v_in']}(ABI_G_{grp.upper()}, {n})")
        elif (name, n) in RANK_ARRAYS:
            if RANK_ARRAYS[(name, n)] == "in":
                pre.append(f"    int s_{n}[ABI_SMALL];\n"
                           f"    int *o_{n} = abi_scratch(s_{n}, n, sizeof *o_{n});\n"
                           f"    if (!o_{n})\n        return {d['no_mem']};\n"
                           f"    for (int i = 0; i < n; i++)\n"
                           f"        o_{n}[i] = {d['v_in']}(ABI_G_RANK, {n}[i]);\n")
                done.append(f"    abi_scratch_done(o_{n}, s_{n});\n")
                args.append(f"o_{n}")
            else:
                post.append(f"    if (rc == {d['success']})\n        for (int i = 0; i < n; i++)\n"
                            f"            {n}[i] = {d['v_out']}(ABI_G_RANK, {n}[i]);\n")
                args.append(n)
        elif p.role == "other" and p.base == "int" and p.ptr == 1 and not p.arr and \
                ((name, n) in VALUE_OUTS or grp):
            g = VALUE_OUTS.get((name, n), grp)
            post.append(f"    if (rc == {d['success']} && {n})\n"
                        f"        *{n} = {d['v_out']}(ABI_G_{g.upper()}, *{n});\n")
            args.append(n)
        elif p.role == "weights" and d is FACE:
            args.append(f"face_weights({n})")
        elif p.role in ("other", "array", "weights", "str", "ptr"):
            args.append(f"({d['cast'](p)}){n}")
        else:
            args.append(n)
    if fn["ret"] != "int":
        # MPI_Aint_add, MPI_Aint_diff: arithmetic, nothing to translate.
        return (f"static {ret} {d['prefix']}{name}({decl})\n{{\n"
                f"    return {target}({', '.join(args)});\n}}\n\n")
    body = "".join(pre_h) + "".join(pre) + f"    int rc = {target}({', '.join(args)});\n" + "".join(post) + "".join(done)
    return (f"static int {d['prefix']}{name}({decl})\n{{\n{body}"
            f"    return {d['rc']}(rc);\n}}\n\n")


def gen_absent(fn):
    return (f"static {abi_type(fn['ret'])} ompi_abi_{fn['name']}({abi_type(fn['decl'])})\n{{\n"
            + "".join(f"    (void){p.name};\n" for p in fn["params"])
            + f"    abi_absent(\"{fn['name']}\");\n}}\n\n")


def gen_ompi_table(funcs, spec, crosses):
    out = [HEADER.replace("mpi_constants.txt", "mpi_api.txt and openmpi.txt"),
           "#include <mpi.h>\n#include <mpi-ext.h>\n\n#include \"ompi_abi.h\"\n\n"]
    fill = ["void ompi_abi_fill_table(struct mana_mpi_table *t)\n{\n"]
    for fn in funcs:
        if not crosses(fn):
            continue
        name = fn["name"]
        if name in spec["by-hand"]:
            fill.append(f"    t->{name} = ompi_abi_{name};\n")
            continue
        if name in spec["absent"]:
            out.append(gen_absent(fn))
        else:
            out.append(gen_adapter(fn, spec["as"].get(name, name)))
        fill.append(f"    t->{name} = ompi_abi_{name};\n")
    fill.append("}\n")
    return "".join(out) + "".join(fill)
