#!/usr/bin/env python3
"""Generate the MPI crossing from mpi-wrappers/mpi_api.txt.

Usage: gen_wrappers.py API_LIST OUTDIR [CONSTANTS OPENMPI]
(mpi_api.txt; and mpi_constants.txt and openmpi.txt for the Open MPI
lower half's files). Writes into OUTDIR:
  mana_mpi_table.h        the table of lower-half MPI entry points
  upper_mpi_exports.c     MPI_x and PMPI_x of libmana for every `pass` line
  upper_mpi_records.h/.c  per recorded function: the record helper that
                          logs a constructor or mutator, and its replay
  lower_mpi_table_fill.c  the lower half's code that fills the table
  upper_mpi_unsupported.c MPI_x and PMPI_x for every `unsupported` line
  mpi_exported_names.txt  every MPI_x libmana must export (for tests)
  mpi_api_list.c          names and support of every function, for
                          mana-launch --list-mpi
  abi_consts.*, lower_ompi_table.c
                          the Open MPI lower half's translation (gen_abi.py)

The input format is described at the top of mpi_api.txt and in
docs/mpi-wrappers.md. Every decision lives here or in the data (the
parameter roles come from the C types and names, plus the per-line
annotations where the type cannot tell); the templates below only
substitute. The output is never edited by hand.
"""
import re
import sys

import gen_abi

HOWS = ("pass", "upper", "both", "upper-only", "unsupported", "mana-only")
UNSUPPORTED = ("unsupported", "mana-only")
PROTO = re.compile(r"^(int|double|MPI_Aint|MPI_Fint|MPI_File)\s+(MPIX?_[A-Za-z0-9_]+)\((.*)\)$")

# C handle type -> virtual-id kind (upper-half/virtual_ids.h).
HANDLE_KIND = {
    "MPI_Comm": "VID_COMM", "MPI_Group": "VID_GROUP", "MPI_Datatype": "VID_DATATYPE", "MPI_Op": "VID_OP",
    "MPI_Request": "VID_REQUEST", "MPI_Errhandler": "VID_ERRHANDLER", "MPI_Info": "VID_INFO",
    "MPI_Win": "VID_WIN", "MPI_Message": "VID_MESSAGE",
}
KIND_CTYPE = {v: k for k, v in HANDLE_KIND.items()}
KIND_CTYPE["VID_KEYVAL"] = "int"
SCALARS = ("int", "MPI_Aint", "MPI_Count", "MPI_Fint", "MPI_Offset")

# The classes, and the template each one picks (see the gen_* functions).
CLASSES = ("local", "p2p", "collective", "nonblocking", "persistent", "constructor", "destructor", "mutator",
           "completion", "tools", "handwritten", "unsupported")
COLLECTIVE = re.compile(r"^MPI_(Allgatherv?|Allreduce|Alltoall[vw]?|Barrier|Bcast|Exscan|Gatherv?|"
                        r"Neighbor_(allgatherv?|alltoall[vw]?)|Reduce|Reduce_scatter(_block)?|Scan|Scatterv?)$")
P2P = re.compile(r"^MPI_((Send|Bsend|Ssend|Rsend)|Recv|Sendrecv(_replace)?|Probe|Mprobe|Mrecv|Iprobe|Improbe)$")
COMPLETION = re.compile(r"^MPI_((Wait|Test)(all|any|some)?|Start(all)?|Cancel|Request_free)$")
MUTATOR = re.compile(r"(_set_name|_set_errhandler|_set_info|_set_attr|_delete_attr)$|"
                     r"^MPI_(Info_set|Info_delete|Attr_put|Attr_delete|Errhandler_set|Type_commit)$")
DESTRUCTOR = re.compile(r"^MPI_(\w+_free|\w+_free_keyval|Keyval_free)$")
ANNOT = re.compile(r"^(len|in|ref|consume|out)\(([A-Za-z_][A-Za-z0-9_]*)\)(=(.+))?$|^(norec)$|^(replay)=(MPI_\w+)$")
# Helpers a len() expression may use; each becomes a lower-half query.
LEN_HELPERS = {"peers": "MANA_PEERS_ALL", "indeg": "MANA_PEERS_IN", "outdeg": "MANA_PEERS_OUT",
               "cartdim": "MANA_PEERS_CARTDIM"}


class ApiError(Exception):
    pass


def split_params(text):
    """Split a parameter list on top-level commas."""
    params, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            params.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        params.append(cur.strip())
    return params


def param_name(param, where):
    base = param.split("[", 1)[0]
    m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", base)
    # A type alone ("MPI_Comm") is one identifier: a name needs a type before it.
    if not m or len(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", base)) < 2 or param.strip() in ("void", "..."):
        raise ApiError(f"{where}: cannot find the parameter name in '{param}'")
    return m.group(1)


class Param:
    """One parameter: its C text, name, base type and role."""

    def __init__(self, text, name):
        self.text, self.name = text, name
        head = text.split("[", 1)[0]
        self.dims = text[len(head):]                     # "", "[]" or "[][3]"
        head = head[:head.rfind(name)]
        self.const = "const" in head.split()
        self.ptr = head.count("*")
        self.base = head.replace("const", "").replace("*", "").strip()
        self.arr = self.dims.startswith("[")
        self.kind = HANDLE_KIND.get(self.base)
        if self.base == "int" and "keyval" in name:
            self.kind = "VID_KEYVAL"
        self.role = None
        self.len = None

    def decl(self, name=None, drop_const=False):
        """A local variable of this parameter's type (arrays decay)."""
        head = self.text.split("[", 1)[0]
        head = head[:head.rfind(self.name)]
        if drop_const:
            head = head.replace("const ", "")
        name = self.name if name is None else name
        if self.dims.startswith("[]") and len(self.dims) > 2:
            return f"{head}(*{name}){self.dims[2:]}"
        if self.arr:
            return f"{head}*{name}"
        return f"{head}{name}"


def classify_params(fn, where):
    """Gives each parameter its role, from its type, name and annotations."""
    ann = fn["ann"]
    for i, p in enumerate(fn["params"]):
        if p.name in ann["len"]:
            p.len = ann["len"][p.name]
        if p.kind and not p.arr and p.ptr == 0:
            p.role = "hin"
        elif p.kind and not p.arr and p.ptr == 1:
            if p.name in ann["in"]:
                p.role = "hinptr"
            elif p.name in ann["consume"]:
                p.role = "hconsume"
            elif fn["cls"] == "destructor" and i == 0:
                p.role = "hfree"
            elif fn["cls"] == "completion":
                p.role = "hreqs"
            else:
                p.role = "hout"
        elif p.kind and p.arr and fn["cls"] == "tools":
            p.role = "other"   # MPI_T_event_get_info's predefined types
        elif p.kind and p.arr:
            if fn["cls"] == "completion":
                p.role = "hreqs"
            elif p.name in ann["out"]:
                p.role = "harr_out"
            else:
                p.role = "harr_in"
        elif p.base == "MPI_Status":
            p.role = "status"
        elif p.base in ("void",) and p.ptr >= 1:
            p.role = "ptr"
        elif p.base == "char" and p.const and p.ptr + p.arr == 1:
            p.role = "str"
        elif p.base.endswith("_function") or p.base.endswith("_fn"):
            p.role = "ptr"
        elif p.base in SCALARS and p.ptr == 0 and not p.arr:
            p.role = "scalar"
        elif p.base == "int" and p.arr and p.name.endswith("weights"):
            # May be MPI_UNWEIGHTED or MPI_WEIGHTS_EMPTY, libmana's
            # addresses for the lower MPI's (mpi_wrap.h).
            p.role = "weights"
        elif p.base in SCALARS and p.arr:
            p.role = "array"
        else:
            # Output scalars and strings, MPI_T handles (opaque pointers,
            # not preserved across a checkpoint), argv: passed as they are.
            p.role = "other"
        if p.role in ("harr_in", "hreqs") and p.arr and not p.len:
            raise ApiError(f"{where}: {fn['name']}: array of handles '{p.name}' needs len({p.name})=...")
    for name in list(ann["len"]) + ann["in"] + ann["ref"] + ann["consume"] + ann["out"]:
        if name not in [p.name for p in fn["params"]]:
            raise ApiError(f"{where}: annotation names '{name}', which is not a parameter of {fn['name']}")


def classify(fn):
    """The function's class: which template writes its wrapper."""
    name, how, params = fn["name"], fn["how"], fn["params"]
    if how in UNSUPPORTED:
        return "unsupported"
    if how != "pass":
        return "handwritten"
    if COMPLETION.match(name):
        return "completion"
    if name.startswith("MPI_T_"):
        return "tools"
    outs = [p for p in params if p.kind and p.ptr == 1 and not p.arr and p.name not in fn["ann"]["in"]
            and p.name not in fn["ann"]["consume"]]
    if any(p.kind == "VID_REQUEST" for p in outs):
        return "persistent" if name.endswith("_init") else "nonblocking"
    if DESTRUCTOR.match(name):
        return "destructor"
    if outs and all(p.kind == "VID_MESSAGE" for p in outs):
        return "p2p"   # Mprobe, Improbe: a matched message, never replayed
    if outs:
        return "constructor"
    if MUTATOR.search(name):
        return "mutator"
    if COLLECTIVE.match(name):
        return "collective"
    if P2P.match(name):
        return "p2p"
    return "local"


def parse_annotations(text, where):
    ann = {"len": {}, "in": [], "ref": [], "consume": [], "out": [], "norec": False, "replay": None}
    for tok in text.split():
        m = ANNOT.match(tok)
        if not m:
            raise ApiError(f"{where}: unknown annotation '{tok}' (len(P)=EXPR, in(P), out(P), ref(P), "
                           f"consume(P), norec, replay=MPI_x)")
        if m.group(5):
            ann["norec"] = True
        elif m.group(6):
            ann["replay"] = m.group(7)
        elif m.group(1) == "len":
            if not m.group(4):
                raise ApiError(f"{where}: len({m.group(2)}) needs '=EXPR'")
            ann["len"][m.group(2)] = m.group(4)
        else:
            ann[m.group(1)].append(m.group(2))
    return ann


def parse(path):
    funcs, seen = [], set()
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            where = f"{path}:{lineno}"
            if ";" not in line:
                raise ApiError(f"{where}: expected '<how> ; <prototype>'")
            parts = [s.strip() for s in line.split(";")]
            how, proto = parts[0], parts[1]
            annots = parts[2] if len(parts) > 2 else ""
            if len(parts) > 3:
                raise ApiError(f"{where}: more than three ';'-separated fields")
            if how not in HOWS:
                raise ApiError(f"{where}: unknown kind '{how}' (one of {', '.join(HOWS)})")
            m = PROTO.match(proto)
            if not m:
                raise ApiError(f"{where}: not a prototype of the form 'int MPI_x(...)': {proto}")
            ret, name, params = m.groups()
            if name in seen:
                raise ApiError(f"{where}: {name} is listed twice")
            seen.add(name)
            plist = split_params(params)
            variadic = "..." in plist
            if variadic and how not in ("upper-only",) + UNSUPPORTED:
                raise ApiError(f"{where}: variadic {name} must be upper-only")
            if plist == ["void"]:
                plist = []
            names = [] if variadic or how in UNSUPPORTED else [param_name(p, where) for p in plist]
            fn = dict(how=how, ret=ret, name=name, plist=plist, names=names, where=where,
                      decl=params if params.strip() else "void", ann=parse_annotations(annots, where))
            fn["params"] = [Param(t, n) for t, n in zip(plist, names)]
            fn["cls"] = classify(fn) if names or not plist else "unsupported"
            if fn["cls"] not in ("unsupported",):
                classify_params(fn, where)
            fn["recorded"] = recorded(fn)
            funcs.append(fn)
    return funcs


def recorded(fn):
    """Whether the function's calls go into the record log (and so replay)."""
    if fn["cls"] in ("unsupported", "tools", "completion") or fn["ann"]["norec"]:
        return False
    if any(p.kind == "VID_WIN" for p in fn["params"]):
        return False   # windows are never replayed: a checkpoint refuses them
    if fn["cls"] in ("constructor", "mutator", "persistent"):
        return True
    if fn["cls"] == "nonblocking":   # Comm_idup: a communicator to replay
        return any(p.role == "hout" and p.kind != "VID_REQUEST" for p in fn["params"])
    # Hand-written constructors (callback-taking) record through the same
    # generated helper.
    return fn["cls"] == "handwritten" and any(p.role == "hout" for p in fn["params"]) and \
        not DESTRUCTOR.match(fn["name"])


def rl_op(fn):
    return "RL_" + fn["name"][4:].upper()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


HEADER = "/* Generated by mpi-wrappers/gen_wrappers.py from mpi-wrappers/mpi_api.txt: do not edit. */\n"


def crosses(fn):
    return fn["how"] not in ("upper-only", "unsupported")


def gen_table(funcs):
    out = [HEADER, "#ifndef MANA_MPI_TABLE_H\n#define MANA_MPI_TABLE_H\n\n#include \"mana/mpich_abi.h\"\n\n",
           "/* Every function in MPICH's ABI, whichever MPI the lower half runs. */\n",
           "struct mana_mpi_table {\n"]
    for fn in funcs:
        if crosses(fn):
            out.append(f"    {gen_abi.abi_type(fn['ret'])} (*{fn['name']})({gen_abi.abi_type(fn['decl'])});\n")
    out.append("};\n\n#endif\n")
    return "".join(out)


# --- pieces of the upper wrappers ---------------------------------------

def len_expr(fn, p, real_of):
    """The C expression of P's length; REAL_OF(name) gives the real handle
    expression of a handle parameter, for the lower-half queries."""
    expr = p.len

    def helper(m):
        h, arg = m.group(1), m.group(2).strip()
        if h == "sum":
            arr, n = (s.strip() for s in arg.split(","))
            return f"mana_wrap_sum({arr}, {n})"
        return f"mana_wrap_peers((MPI_Comm){real_of(arg)}, {LEN_HELPERS[h]})"
    return re.sub(r"\b(peers|indeg|outdeg|cartdim|sum)\(([^()]*)\)", helper, expr)


def translate_in(p, fname):
    """Code that turns the application's handle P into r_P (uint64_t)."""
    return (f"    uint64_t r_{p.name};\n"
            f"    if (__builtin_expect(vid_real({p.kind}, {p.name}, &r_{p.name}) != 0, 0))\n"
            f"        r_{p.name} = mana_bad_handle({p.kind}, {p.name}, \"{fname}\");\n")


def translate_array_in(fn, p, owned):
    """r_P: the real handles of array P (NULL stays NULL)."""
    n = len_expr(fn, p, lambda a: f"r_{a}")
    ctype = p.base
    small = "NULL" if owned else f"s_{p.name}"
    decl = "" if owned else f"    {ctype} s_{p.name}[MANA_WRAP_SMALL];\n"
    return (decl +
            f"    int n_{p.name} = {p.name} ? (int)({n}) : 0;\n"
            f"    {ctype} *r_{p.name} = mana_wrap_handles_in({p.kind}, (const int32_t *){p.name}, n_{p.name}, "
            f"(int32_t *){small}, \"{fn['name']}\");\n"
            f"    if ({p.name} && !r_{p.name} && n_{p.name} > 0) {{\n"
            f"        mana_cross_unlock(&c);\n        return MPI_ERR_NO_MEM;\n    }}\n")


def call_args(fn):
    args = []
    for p in fn["params"]:
        if p.role == "hin":
            args.append(f"({p.base})r_{p.name}")
        elif p.role in ("hout", "hinptr", "hfree", "hconsume"):
            args.append(f"&o_{p.name}")
        elif p.role == "harr_in":
            args.append(f"r_{p.name}")
        elif p.role == "hreqs":
            args.append(f"rq.real" if p.arr else "rq.real")
        elif p.role == "weights":
            args.append(f"mana_weights_real({p.name})" if p.const else f"mana_weights_real_out({p.name})")
        else:
            args.append(p.name)
    return ", ".join(args)


# Lower calls made by MANA's own code instead (ckpt_sync.h, ckpt_drain.h):
# test loops in place of blocking calls, and receive paths that look at
# the messages a checkpoint drained before they ask MPI.
LOWER_CALLS = {
    "MPI_Mprobe": "    int rc = mana_p2p_mprobe(&c, source, tag, comm, &o_message, status);\n",
    "MPI_Improbe": "    int rc = mana_p2p_improbe(&c, source, tag, comm, flag, &o_message, status);\n",
    "MPI_Iprobe": "    int rc = mana_p2p_iprobe(&c, source, tag, comm, (MPI_Comm)r_comm, flag, status);\n",
    "MPI_Irecv": ("    uint8_t counted_l = 0;\n"
                  "    int rc = mana_p2p_irecv(&c, buf, count, (MPI_Datatype)r_datatype, source, tag, comm, "
                  "(MPI_Comm)r_comm, &o_request, &counted_l);\n"),
    "MPI_Mrecv": "    int rc = mana_p2p_mrecv(&c, buf, count, (MPI_Datatype)r_datatype, &o_message, status);\n",
    "MPI_Imrecv": "    int rc = mana_p2p_imrecv(&c, buf, count, (MPI_Datatype)r_datatype, &o_message, &o_request);\n",
    "MPI_Start": "    int rc = mana_start_requests(&c, 1, request, rq.real);\n",
    "MPI_Startall": "    int rc = mana_start_requests(&c, count, array_of_requests, rq.real);\n",
    "MPI_Buffer_attach": "    int rc = mana_buffer_attach(&c, buffer, size);\n",
    "MPI_Buffer_detach": "    int rc = mana_buffer_detach(&c, buffer_addr, size);\n",
    "MPI_Request_get_status": "    int rc = mana_request_get_status(&c, request, (MPI_Request)r_request, flag, status);\n",
}


def call_lower(fn, args=None):
    if fn["name"] in LOWER_CALLS:
        return LOWER_CALLS[fn["name"]]
    args = call_args(fn) if args is None else args
    return (f"    mana_cross_to_lower(&c);\n"
            f"    {fn['ret']} rc = mana_lower->mpi.{fn['name']}({args});\n"
            f"    mana_cross_to_upper(&c);\n")


def out_locals(fn):
    code = ""
    for p in fn["params"]:
        if p.role == "hout":
            code += f"    {p.base} o_{p.name} = ({p.base}){null_of(p.kind)};\n"
        elif p.role in ("hinptr", "hfree", "hconsume"):
            code += translate_in_ptr(p, fn["name"])
    return code


def null_of(kind):
    return {"VID_KEYVAL": "MPI_KEYVAL_INVALID"}.get(kind, f"MPI_{kind[4:]}_NULL")


def consumed(fn):
    """A handle the call used up (the message of Mrecv): its id goes."""
    return "".join(f"    if (rc == MPI_SUCCESS)\n        *{p.name} = mana_handle_consumed({p.kind}, *{p.name}, "
                   f"MANA_REAL(o_{p.name}));\n" for p in fn["params"] if p.role == "hconsume")


def translate_in_ptr(p, fname):
    return (f"    uint64_t r_{p.name};\n"
            f"    if (__builtin_expect(vid_real({p.kind}, *{p.name}, &r_{p.name}) != 0, 0))\n"
            f"        r_{p.name} = mana_bad_handle({p.kind}, *{p.name}, \"{fname}\");\n"
            f"    {p.base} o_{p.name} = ({p.base})r_{p.name};\n")


def helper_args(fn, for_handwritten=False):
    """Arguments of the record helper, from inside a generated wrapper."""
    args = []
    for p in fn["params"]:
        if p.role == "hout":
            args.append(f"{p.name}, MANA_REAL(o_{p.name})")
        elif p.role in ("hinptr", "hfree", "hconsume"):
            args.append(f"*{p.name}")
        else:
            args.append(p.name)
    return ", ".join(args)


def wrapper_head(fn):
    return (f"/* class: {fn['cls']} */\n{fn['ret']} {fn['name']}({fn['decl']})\n{{\n"
            f"    struct mana_crossing c;\n    mana_cross_lock(&c, \"{fn['name']}\");\n")


def wrapper_tail(fn):
    return f"    mana_cross_unlock(&c);\n    return rc;\n}}\nMANA_PMPI_ALIAS({fn['name']})\n\n"


def ins(fn, owned_arrays=False):
    code = ""
    for p in fn["params"]:
        if p.role == "hin":
            code += translate_in(p, fn["name"])
    for p in fn["params"]:
        if p.role == "harr_in":
            code += translate_array_in(fn, p, owned_arrays)
    return code


def free_arrays(fn):
    return "".join(f"    mana_wrap_handles_done(r_{p.name}, s_{p.name});\n"
                   for p in fn["params"] if p.role == "harr_in")


def outs_plain(fn):
    """Handle outputs of a call that is not recorded: predefined handles
    stay themselves, known objects keep their id, new ones get one."""
    code = ""
    for p in fn["params"]:
        if p.role == "hout":
            ref = "MANA_OUT_REF" if p.name in fn["ann"]["ref"] else "0"
            code += (f"    if (rc == MPI_SUCCESS) {{\n"
                     f"        int32_t v = mana_handle_out({p.kind}, MANA_REAL(o_{p.name}), {ref}, \"{fn['name']}\");\n"
                     f"        if (v == VID_INVALID)\n            rc = MPI_ERR_INTERN;\n"
                     f"        else\n            *{p.name} = ({p.base})v;\n    }}\n")
    return code


# --- the templates, one per class ---------------------------------------

def tpl_call(fn):
    """local, p2p, collective, tools: translate the handles, call, map
    any returned handle back."""
    return (wrapper_head(fn) + ins(fn) + out_locals(fn) + call_lower(fn) + outs_plain(fn) + consumed(fn) +
            free_arrays(fn) + wrapper_tail(fn))


def nonblocking_name(name):
    """MPI_Allreduce -> MPI_Iallreduce: the form a blocking collective is
    issued in, so that its test loop can let a checkpoint in."""
    return "MPI_I" + name[4].lower() + name[5:]


def comm_param(fn):
    for want in ("comm", "comm_old", "local_comm", "intercomm"):
        if any(p.name == want for p in fn["params"]):
            return want
    return None


# Collectives whose MPI_IN_PLACE input is kept (ckpt_sync.h), so that they
# too can be posted again: the call that keeps it. MPI_Allreduce keeps a
# small one only (a larger one has an arrival barrier); the others, which
# cannot have one, keep more.
INPLACE_KEPT = {
    "MPI_Allreduce": "mana_inplace_save(&c, recvbuf, count, datatype)",
    "MPI_Reduce": "mana_inplace_save(&c, recvbuf, count, datatype)",
    "MPI_Scan": "mana_inplace_save(&c, recvbuf, count, datatype)",
    "MPI_Exscan": "mana_inplace_save(&c, recvbuf, count, datatype)",
    "MPI_Gather": "mana_inplace_save_gather(&c, recvbuf, recvcount, recvtype, root, comm)",
    "MPI_Gatherv": "mana_inplace_save_gatherv(&c, recvbuf, recvcounts, displs, recvtype, root, comm)",
}
# Collectives that MPI lets use MPI_IN_PLACE only "at all processes" (MPI
# 3.1, 5.5-5.10), so every member takes the same way: one whose input is
# not kept goes through an arrival barrier first (mana_coll_arrival). For
# MPI_Allreduce "not kept" must be decided alike on every member too: by
# the data's size, which MPI requires to match (mana_inplace_large).
# Rooted ones (in place at the root only) and MPI_Scan/MPI_Exscan (in
# place per process) cannot decide by MPI_IN_PLACE: they keep their input
# (INPLACE_KEPT) when it is small, and take the arrival barrier of
# GHOST_ARRIVAL by its size otherwise; only MPI_Gatherv at the root, in
# place over what is kept, makes a checkpoint wait.
INPLACE_ARRIVAL = {
    "MPI_Allreduce": "sendbuf == MPI_IN_PLACE && mana_inplace_large(&c, count, datatype)",
    "MPI_Allgather": "sendbuf == MPI_IN_PLACE", "MPI_Allgatherv": "sendbuf == MPI_IN_PLACE",
    "MPI_Alltoall": "sendbuf == MPI_IN_PLACE", "MPI_Alltoallv": "sendbuf == MPI_IN_PLACE",
    "MPI_Alltoallw": "sendbuf == MPI_IN_PLACE", "MPI_Reduce_scatter": "sendbuf == MPI_IN_PLACE",
    "MPI_Reduce_scatter_block": "sendbuf == MPI_IN_PLACE",
}


# Collectives of GHOSTS (below) whose ghost would be too large to keep:
# an arrival barrier first, decided alike on every member by the size of
# the data (struct mana_ghost_size: the block at the root, the block
# elsewhere, and how many blocks the largest ghost keeps), so that no
# member leaves them before every member has entered them. Not the v
# kinds, whose members cannot know each other's blocks.
GHOST_ARRIVAL = {
    "MPI_Bcast": "-1, 0, 0, count, datatype, 1, 0",
    "MPI_Reduce": "-1, 0, 0, count, datatype, 2, 0",  # the input and a scratch buffer
    "MPI_Scan": "-1, 0, 0, count, datatype, 2, 0",
    "MPI_Exscan": "-1, 0, 0, count, datatype, 2, 0",
    "MPI_Gather": "root, recvcount, recvtype, sendcount, sendtype, 1, 0",
    "MPI_Scatter": "root, sendcount, sendtype, recvcount, recvtype, 1, 1",  # the root's whole input and its block
}


def arrival_condition(fn):
    """When the collective takes an arrival barrier first, or None."""
    name = fn["name"]
    if name in INPLACE_ARRIVAL:
        return INPLACE_ARRIVAL[name]
    if name in GHOST_ARRIVAL:
        fields = ("root", "root_count", "root_type", "count", "type", "times", "plus_members")
        values = (v.strip() for v in GHOST_ARRIVAL[name].split(","))
        size = ", ".join(f".{f} = {v}" for f, v in zip(fields, values))
        return f"mana_ghost_large(&c, {comm_param(fn)}, &(const struct mana_ghost_size){{{size}}})"
    return None


def repostable(fn):
    """Whether the collective can be posted again after a restart that
    found this rank inside it: its inputs must be intact, which
    MPI_IN_PLACE does not promise unless MANA kept them."""
    names = {p.name for p in fn["params"]}
    if "sendbuf" not in names:
        return "1"
    if fn["name"] in INPLACE_KEPT:
        return f"sendbuf != MPI_IN_PLACE || {INPLACE_KEPT[fn['name']]}"
    return "sendbuf != MPI_IN_PLACE"


def tpl_collective(fn):
    """A blocking collective: through its gate (counted per communicator),
    then its nonblocking form and the test loop (ckpt_sync.h), posted
    again if a restart finds it unfinished (handles translated anew)."""
    args = call_args(fn) + ", &creq"
    # Whether it can be posted again is settled before MPI touches it.
    # One that cannot (its MPI_IN_PLACE input not kept) is posted only
    # once every member has arrived (mana_coll_arrival), so that it never
    # waits for a member a checkpoint may stop first.
    arrival = ""
    if arrival_condition(fn) is not None:
        comm = comm_param(fn)
        arrival = (f"    rc = {arrival_condition(fn)} ? mana_coll_arrival(&c, r_{comm}) : MPI_SUCCESS;\n"
                   "    if (rc == MPI_SUCCESS) {\n")
    lower = (call_lower(fn, args).replace(f"mpi.{fn['name']}(", f"mpi.{nonblocking_name(fn['name'])}(")
             .replace("    int rc = ", "    rc = ") +
             "    if (rc == MPI_SUCCESS)\n        rc = mana_wait_collective(&c, &creq, again_ok);\n")
    if arrival:
        lower = arrival + "".join("    " + line if line else line for line in lower.splitlines(True)) + "    }\n"
    post = (ins(fn) + out_locals(fn) + f"    int again_ok = {repostable(fn)};\n    MPI_Request creq;\n" +
            lower + consumed(fn) + free_arrays(fn))
    body = "".join("    " + line if line else line for line in post.splitlines(True))
    again = "rc == MANA_COLL_REPOST"
    if fn["name"] in INPLACE_KEPT:
        again += " && (sendbuf != MPI_IN_PLACE || mana_inplace_restore())"
    return (wrapper_head(fn) + f"    mana_coll_enter(&c, {comm_param(fn)});\n    int rc;\n    do {{\n" + body +
            f"    }} while ({again});\n" + ghost(fn) + wrapper_tail(fn))


# Blocking collectives a member can see complete before another member has
# entered them (a root that sent, a sender to the root, a rank that passed
# the data on, a scan that had what it needed): the ghost a restart posts
# in their place, if a member had not entered them yet (mana_coll_ghost,
# struct mana_ghost_spec): its nonblocking form and the arguments of that
# form, with GHOST_KEPT for the kept copy of the input and GHOST_SCRATCH
# for a buffer to receive into (MPICH may use a non-root's recvbuf of
# MPI_Reduce as scratch; MPI_IN_PLACE stays), "0" for the buffers that do
# not matter at this rank; then what it keeps:
#   kept: the input (buffer, count, type), per_member: the count is each
#     member's (the root's of MPI_Scatter), arrays: the counts and
#     displacements that say where it lies (MPI_Scatterv's root), kept
#     too, inplace: where the input was when it is MPI_IN_PLACE;
#   root_only: the arguments that matter at the root only (the input's
#     among them), the last its type;
#   scratch: the receive buffer's count and type;
#   not_root: none at the root (it completes last).
GHOST_KEPT = "GHOST_KEPT"
GHOST_SCRATCH = "GHOST_SCRATCH"
GHOSTS = {
    "MPI_Bcast": dict(form="MPI_Ibcast", args=[GHOST_KEPT, "count", "datatype", "root", "comm"],
                      kept="buffer, count, datatype"),
    "MPI_Reduce": dict(form="MPI_Ireduce", args=[GHOST_KEPT, GHOST_SCRATCH, "count", "datatype", "op", "root", "comm"],
                       kept="sendbuf, count, datatype", scratch="count, datatype", not_root=True),
    "MPI_Gather": dict(form="MPI_Igather",
                       args=[GHOST_KEPT, "sendcount", "sendtype", "0", "recvcount", "recvtype", "root", "comm"],
                       kept="sendbuf, sendcount, sendtype", not_root=True),
    "MPI_Gatherv": dict(form="MPI_Igatherv",
                        args=[GHOST_KEPT, "sendcount", "sendtype", "0", "0", "0", "recvtype", "root", "comm"],
                        kept="sendbuf, sendcount, sendtype", not_root=True),
    "MPI_Scatter": dict(form="MPI_Iscatter",
                        args=[GHOST_KEPT, "sendcount", "sendtype", GHOST_SCRATCH, "recvcount", "recvtype", "root",
                              "comm"],
                        kept="sendbuf, sendcount, sendtype", per_member=True,
                        root_only=["sendbuf", "sendcount", "sendtype"], scratch="recvcount, recvtype"),
    "MPI_Scatterv": dict(form="MPI_Iscatterv",
                         args=[GHOST_KEPT, "0", "0", "sendtype", GHOST_SCRATCH, "recvcount", "recvtype", "root",
                               "comm"],
                         kept="sendbuf, 0, sendtype", arrays=("sendcounts", "displs"),
                         root_only=["sendbuf", "sendcounts", "displs", "sendtype"], scratch="recvcount, recvtype"),
    "MPI_Scan": dict(form="MPI_Iscan", args=[GHOST_KEPT, GHOST_SCRATCH, "count", "datatype", "op", "comm"],
                     kept="sendbuf, count, datatype", inplace="recvbuf", scratch="count, datatype"),
    "MPI_Exscan": dict(form="MPI_Iexscan", args=[GHOST_KEPT, GHOST_SCRATCH, "count", "datatype", "op", "comm"],
                       kept="sendbuf, count, datatype", inplace="recvbuf", scratch="count, datatype"),
}


def ghost(fn):
    """After a blocking collective of GHOSTS completed: its ghost."""
    if fn["name"] not in GHOSTS:
        return ""
    g = GHOSTS[fn["name"]]
    args = g["args"]
    names = [p.name for p in fn["params"]]
    scratch = args.index(GHOST_SCRATCH) if GHOST_SCRATCH in args else -1
    # The receive buffer's own value where it gets no scratch (MPI_IN_PLACE).
    values = ", ".join("0" if a == GHOST_KEPT else
                       "(uint64_t)(uintptr_t)recvbuf" if a == GHOST_SCRATCH else
                       f"(uint64_t)(int64_t){a}" for a in args)
    buf, count, dtype = (x.strip() for x in g["kept"].split(","))
    scratch_count, scratch_type = (x.strip() for x in g["scratch"].split(",")) if "scratch" in g else ("0", "0")
    root = "root" if "root" in names else "-1"
    # Positions in the nonblocking form's arguments: the blocking form's
    # parameters, in their order, and the request.
    form_names = names
    root_only = sum(1 << form_names.index(a) for a in g.get("root_only", []))
    type_arg = form_names.index(g["root_only"][-1]) if "root_only" in g else -1
    counts, displs = g.get("arrays", ("NULL", "NULL"))
    arrays_at = (f".counts_arg = {form_names.index(counts)}, .displs_arg = {form_names.index(displs)}"
                 if "arrays" in g else ".counts_arg = -1, .displs_arg = -1")
    spec = (f"{{.kept_arg = {args.index(GHOST_KEPT)}, .buf = {buf}, .count = {count}, .type = {dtype}, "
            f".count_per_member = {int(g.get('per_member', False))}, .counts = {counts}, .displs = {displs}, "
            f"{arrays_at}, .inplace_buf = {g.get('inplace', 'NULL')}, "
            f".scratch_arg = {f'recvbuf == MPI_IN_PLACE ? -1 : {scratch}' if scratch >= 0 else '-1'}, "
            f".scratch_count = {scratch_count}, .scratch_type = {scratch_type}, .root = {root}, "
            f".not_root = {int(g.get('not_root', False))}, .root_only_args = {root_only:#x}u, "
            f".root_only_type_arg = {type_arg}}}")
    return (f"    if (rc == MPI_SUCCESS) {{\n"
            f"        const uint64_t ghost_args[MANA_COLL_ARGS] = {{{values}}};\n"
            f"        const struct mana_ghost_spec ghost_spec = {spec};\n"
            f"        mana_coll_ghost(&c, comm, repost_{g['form']}, live_{g['form']}, ghost_args, &ghost_spec);\n"
            f"    }}\n")


def repost_prototypes(funcs):
    """The repost functions, declared before the blocking wrappers whose
    ghosts name them."""
    return "".join(f"static int repost_{fn['name']}(struct mana_crossing *cp, struct mana_request_info *d, "
                   f"uint64_t *real);\nstatic int live_{fn['name']}(const uint64_t *a, const int32_t *arr_n);\n"
                   for fn in funcs if fn["how"] == "pass" and coll_repostable(fn)) + "\n"


SEND_MODES = {"MPI_Send": 0, "MPI_Ssend": 1, "MPI_Bsend": 2, "MPI_Rsend": 3}
P2P_LOOPS = {
    "MPI_Recv": "mana_p2p_recv(&c, buf, count, datatype, source, tag, comm, status)",
    "MPI_Sendrecv": "mana_p2p_sendrecv(&c, sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount, "
                    "recvtype, source, recvtag, comm, status)",
    "MPI_Probe": "mana_p2p_probe(&c, source, tag, comm, status)",
    "MPI_Sendrecv_replace": "mana_p2p_sendrecv_replace(&c, buf, count, datatype, dest, sendtag, source, recvtag, "
                            "comm, status)",
}
def tpl_p2p(fn):
    """Blocking point-to-point: a test loop that counts the messages and
    lets a checkpoint in (ckpt_sync.h). MPI_Mrecv, whose message was
    matched already, is a plain call."""
    name = fn["name"]
    if name in SEND_MODES:
        call = f"mana_p2p_send(&c, {SEND_MODES[name]}, buf, count, datatype, dest, tag, comm)"
    elif name in P2P_LOOPS:
        call = P2P_LOOPS[name]
    else:
        return tpl_call(fn)
    return wrapper_head(fn) + f"    int rc = {call};\n" + wrapper_tail(fn)


def tpl_constructor(fn):
    """A new object: its id, and a record of the call so a restart can
    make it again."""
    if not fn["recorded"]:
        return tpl_call(fn)
    copies = ATTRIBUTE_COPYING.get(fn["name"])
    begin = "    mana_attr_copies_begin();\n" if copies else ""
    record = (f"    if (rc == MPI_SUCCESS && mana_attr_copies_record({copies[0]}, *{copies[1]}) != 0)\n"
              f"        rc = MPI_ERR_INTERN;\n" if copies else "")
    # The barrier of a collective constructor first: a restart may happen
    # while the rank waits in it, and the handles are translated after.
    early = COLLECTIVE_CONSTRUCTORS.match(fn["name"]) is not None
    return (wrapper_head(fn) + collective_constructor_entry(fn) +
            (collective_constructor_barrier(fn) if early else "") + ins(fn) + out_locals(fn) +
            ("" if early else collective_constructor_barrier(fn)) + begin + blocking_call(fn) +
            f"    if (rc == MPI_SUCCESS && mana_record_{fn['name']}({helper_args(fn)}) == VID_INVALID)\n"
            f"        rc = MPI_ERR_INTERN;\n" + record + free_arrays(fn) + wrapper_tail(fn))


# Duplicating constructors, whose attribute copy callbacks run inside the
# call: what they copy is recorded on the new object (mpi_wrap.h).
ATTRIBUTE_COPYING = {
    "MPI_Comm_dup": ("VID_COMM", "newcomm"),
    "MPI_Comm_dup_with_info": ("VID_COMM", "newcomm"),
    "MPI_Type_dup": ("VID_DATATYPE", "newtype"),
}


# Constructors that are collective over a whole communicator and have no
# nonblocking form: counted at the gate, and preceded by a barrier in the
# test loop so that the blocking call itself waits for nobody.
COLLECTIVE_CONSTRUCTORS = re.compile(r"^MPI_(Comm_dup|Comm_dup_with_info|Comm_split|Comm_split_type|Comm_create|"
                                     r"Cart_create|Cart_sub|Graph_create|Dist_graph_create(_adjacent)?|"
                                     r"Intercomm_merge)$")
# Blocking constructors whose participants are not one communicator's
# members: a barrier over exactly those, and no gate (ckpt_sync.h).
GROUP_BARRIERS = {
    "MPI_Comm_create_group": "mana_group_barrier(&c, group)",
    "MPI_Intercomm_create": "mana_intercomm_barrier(&c, local_comm, local_leader, peer_comm, remote_leader)",
}


def collective_constructor_entry(fn):
    if not COLLECTIVE_CONSTRUCTORS.match(fn["name"]):
        return ""
    return f"    mana_coll_enter(&c, {comm_param(fn)});\n"


def barrier_of(fn):
    """The barrier call before a blocking constructor, or None."""
    if fn["name"] in GROUP_BARRIERS:
        return GROUP_BARRIERS[fn["name"]]
    if COLLECTIVE_CONSTRUCTORS.match(fn["name"]):
        return f"mana_coll_barrier(&c, {comm_param(fn)})"
    return None


def blocking_call(fn):
    """The lower call; after a barrier, outside the lower lock where MPI
    allows (mana_blocking_begin)."""
    if barrier_of(fn) is None:
        return call_lower(fn)
    return "    mana_blocking_begin(&c);\n" + call_lower(fn) + "    mana_blocking_end(&c);\n"


def collective_constructor_barrier(fn):
    barrier = barrier_of(fn)
    if barrier is None:
        return ""
    return (f"    int brc = {barrier};\n"
            f"    if (brc != MPI_SUCCESS) {{\n        mana_cross_unlock(&c);\n        return brc;\n    }}\n")


def tpl_mutator(fn):
    """A change to an existing object: logged after the constructor."""
    if not fn["recorded"]:
        return tpl_call(fn)
    return (wrapper_head(fn) + ins(fn) + out_locals(fn) + call_lower(fn) +
            f"    if (rc == MPI_SUCCESS && mana_record_{fn['name']}({helper_args(fn)}) != 0)\n"
            f"        rc = MPI_ERR_INTERN;\n" + free_arrays(fn) + wrapper_tail(fn))


def tpl_destructor(fn):
    """The last reference the application holds frees the lower object,
    releases the id and prunes the record log."""
    p = fn["params"][0]
    null = null_of(p.kind)
    # A communicator the application frees may be kept for its ghosts.
    kept = (f"        mana_coll_comm_dropped(&c, *{p.name});\n" if fn["name"] == "MPI_Comm_free" else "")
    return (wrapper_head(fn) +
            f"    uint64_t r_{p.name};\n"
            f"    int how = mana_handle_free_begin({p.kind}, *{p.name}, &r_{p.name}, \"{fn['name']}\");\n"
            f"    if (how == MANA_FREE_REF_DROPPED) {{\n" + kept +
            f"        *{p.name} = ({p.base}){null};\n        mana_cross_unlock(&c);\n        return MPI_SUCCESS;\n    }}\n"
            f"    {p.base} o_{p.name} = ({p.base})r_{p.name};\n" + call_lower(fn) +
            f"    if (rc == MPI_SUCCESS) {{\n"
            f"        if (how == MANA_FREE_LAST)\n"
            f"            mana_handle_freed({p.kind}, *{p.name});\n"
            f"        *{p.name} = ({p.base}){null};\n    }}\n" + wrapper_tail(fn))


REQ_KIND = [(r"^MPI_(Isend|Send_init)$", "MANA_REQ_SEND"), (r"^MPI_(Issend|Ssend_init)$", "MANA_REQ_SSEND"),
            (r"^MPI_(Ibsend|Bsend_init)$", "MANA_REQ_BSEND"), (r"^MPI_(Irsend|Rsend_init)$", "MANA_REQ_RSEND"),
            (r"^MPI_(Irecv|Recv_init)$", "MANA_REQ_RECV"), (r"^MPI_Imrecv$", "MANA_REQ_MRECV"),
            (r"^MPI_Isendrecv", "MANA_REQ_SENDRECV"), (r"^MPI_R(put|get|accumulate|get_accumulate)$", "MANA_REQ_RMA")]


def request_kind(fn):
    for pat, kind in REQ_KIND:
        if re.match(pat, fn["name"]):
            return kind
    return "MANA_REQ_COLLECTIVE"


SEND_KINDS = ("MANA_REQ_SEND", "MANA_REQ_SSEND", "MANA_REQ_BSEND", "MANA_REQ_RSEND", "MANA_REQ_SENDRECV")


def descriptor(fn):
    """Fills `d`, the pending request's descriptor, from the parameters."""
    names = {p.name: p for p in fn["params"]}
    kind = request_kind(fn)
    d = [f".kind = {kind}", f".persistent = {1 if fn['cls'] == 'persistent' else 0}",
         f".active = {0 if fn['cls'] == 'persistent' else 1}", f".function = \"{fn['name']}\""]
    if "comm" in names:
        d.append(".comm = comm")
    send = kind in ("MANA_REQ_SEND", "MANA_REQ_SSEND", "MANA_REQ_BSEND", "MANA_REQ_RSEND", "MANA_REQ_SENDRECV")
    recv = kind in ("MANA_REQ_RECV", "MANA_REQ_MRECV", "MANA_REQ_SENDRECV")
    if send:
        buf = "sendbuf" if "sendbuf" in names else "buf"
        cnt = "sendcount" if "sendcount" in names else "count"
        typ = "sendtype" if "sendtype" in names else "datatype"
        tag = "sendtag" if "sendtag" in names else "tag"
        d += [f".send_buf = {buf}", f".send_count = {cnt}", f".send_type = {typ}", f".dest = dest",
              f".send_tag = {tag}"]
    if recv:
        buf = "recvbuf" if "recvbuf" in names else "buf"
        cnt = "recvcount" if "recvcount" in names else "count"
        typ = "recvtype" if "recvtype" in names else "datatype"
        tag = "recvtag" if "recvtag" in names else "tag"
        d += [f".recv_buf = {buf}", f".recv_count = {cnt}", f".recv_type = {typ}"]
        if kind != "MANA_REQ_MRECV":
            d += [".source = source", f".recv_tag = {tag}"]
    if fn["name"] in LOWER_CALLS and "counted_l" in LOWER_CALLS[fn["name"]]:
        d.append(".counted = counted_l")
    if fn["cls"] == "persistent" and kind == "MANA_REQ_COLLECTIVE":
        # Started again after a restart from the replayed request, unless
        # its input is MPI_IN_PLACE, which MPI may have overwritten.
        again = "sendbuf != MPI_IN_PLACE ? mana_repost_started : NULL" if "sendbuf" in names else \
            "mana_repost_started"
        d += [f".repost = {again}", ".live = mana_started_live"]
    return "{" + ", ".join(d) + "}"


def coll_repostable(fn):
    """A nonblocking collective of the application that a restart can post
    again from its arguments: not one that makes an object (Comm_idup)."""
    return (fn["cls"] == "nonblocking" and request_kind(fn) == "MANA_REQ_COLLECTIVE" and
            not any(p.role == "hout" and p.kind != "VID_REQUEST" for p in fn["params"]))


def coll_arg_params(fn):
    """The parameters a nonblocking collective is posted again from: all
    but its request."""
    params = [p for p in fn["params"] if not (p.role == "hout" and p.kind == "VID_REQUEST")]
    if len(params) > 10:   # MANA_COLL_ARGS, request_info.h
        raise ApiError(f"{fn['where']}: {fn['name']}: more arguments than MANA_COLL_ARGS holds")
    return params


def is_pointer(p):
    return bool(p.ptr or p.arr)


def coll_repost_fn(fn):
    """repost_<name>: posts the collective again from the arguments kept in
    its descriptor, with its handles translated now; at a restart that
    found it pending while a member had not posted it (ckpt_drain.c)."""
    name = fn["name"]
    code = (f"/* {name} posted again after a restart (request_info.h, mana_coll_repost_fn). */\n"
            f"static int repost_{name}(struct mana_crossing *cp, struct mana_request_info *d, uint64_t *real)\n{{\n")
    for i, p in enumerate(coll_arg_params(fn)):
        if is_pointer(p):
            code += f"    {p.decl()} = ({p.decl('')})(uintptr_t)d->coll_args[{i}];\n"
        else:
            code += f"    {p.decl()} = ({p.base})(int64_t)d->coll_args[{i}];\n"
    for p in fn["params"]:
        if p.role == "hin":
            code += (f"    uint64_t r_{p.name};\n"
                     f"    if (vid_real({p.kind}, {p.name}, &r_{p.name}) != 0)\n        return MPI_ERR_ARG;\n")
    owned = [p for p in fn["params"] if p.role == "harr_in"]
    for k, p in enumerate(owned):
        n = len_expr(fn, p, lambda a: f"r_{a}")
        code += (f"    int n_{p.name} = {p.name} ? (int)({n}) : 0;\n"
                 f"    {p.base} *r_{p.name} = mana_wrap_handles_in({p.kind}, (const int32_t *){p.name}, n_{p.name}, "
                 f"NULL, \"{name}\");\n"
                 f"    if ({p.name} && !r_{p.name} && n_{p.name} > 0) {{\n" +
                 "".join(f"        free(r_{q.name});\n" for q in owned[:k]) +
                 "        return MPI_ERR_NO_MEM;\n    }\n")
    req = [p for p in fn["params"] if p.role == "hout" and p.kind == "VID_REQUEST"][0]
    code += (f"    MPI_Request o_{req.name} = MPI_REQUEST_NULL;\n    mana_cross_to_lower(cp);\n"
             f"    int rc = mana_lower->mpi.{name}({call_args(fn)});\n    mana_cross_to_upper(cp);\n"
             f"    if (rc == MPI_SUCCESS) {{\n        *real = MANA_REAL(o_{req.name});\n")
    if owned:
        code += ("        free(d->owned[0]);\n        free(d->owned[1]);\n"
                 "        d->owned[0] = d->owned[1] = NULL;\n" +
                 "".join(f"        mana_wrap_keep(d, r_{p.name});\n" for p in owned) + "    } else {\n" +
                 "".join(f"        free(r_{p.name});\n" for p in owned))
    return code + "    }\n    return rc;\n}\n\n"


# Nonblocking collectives whose MPI_IN_PLACE input, COUNT of DATATYPE in
# RECVBUF, is kept with the request when small (mana_nbc_keep), so that
# they too can be posted again.
# Nonblocking collectives whose MPI_IN_PLACE input (in recvbuf) MANA
# keeps, up to 64 KiB, so that a restart can post them again: how.
# Where every member has a block of recvbuf (the input of all-to-all and
# of the reduce-scatters, and the own block among the outputs of
# allgather), the whole buffer is kept and put back.
NBC_INPLACE_KEPT = {
    "MPI_Iallreduce": "mana_nbc_keep(&c, recvbuf, count, datatype)",
    "MPI_Ireduce": "mana_nbc_keep(&c, recvbuf, count, datatype)",
    "MPI_Iscan": "mana_nbc_keep(&c, recvbuf, count, datatype)",
    "MPI_Iexscan": "mana_nbc_keep(&c, recvbuf, count, datatype)",
    "MPI_Iallgather": "mana_nbc_keep_blocks(&c, recvbuf, recvcount, NULL, recvtype, comm)",
    "MPI_Ialltoall": "mana_nbc_keep_blocks(&c, recvbuf, recvcount, NULL, recvtype, comm)",
    "MPI_Ireduce_scatter_block": "mana_nbc_keep_blocks(&c, recvbuf, recvcount, NULL, datatype, comm)",
    "MPI_Ireduce_scatter": "mana_nbc_keep_blocks(&c, recvbuf, 0, recvcounts, datatype, comm)",
}


def nbc_keep(fn):
    """Before the call: the kept MPI_IN_PLACE input, if any."""
    if fn["name"] not in NBC_INPLACE_KEPT:
        return ""
    return (f"    struct mana_kept_input *kept_l = sendbuf == MPI_IN_PLACE ? "
            f"{NBC_INPLACE_KEPT[fn['name']]} : NULL;\n")


def coll_live_fn(fn):
    """live_<name>: whether the handles among the kept arguments still name
    objects (request_info.h, mana_coll_live_fn)."""
    checks = []
    owned = 0
    for i, p in enumerate(coll_arg_params(fn)):
        if p.role == "hin":
            checks.append(f"vid_real({p.kind}, (int32_t)a[{i}], &r) == 0")
        elif p.role == "harr_in":
            checks.append(f"(arr_n == NULL || mana_wrap_handles_live({p.kind}, (const int32_t *)(uintptr_t)a[{i}], "
                          f"arr_n[{owned}]))")
            owned += 1
    body = " &&\n           ".join(checks) if checks else "1"
    return (f"static int live_{fn['name']}(const uint64_t *a, const int32_t *arr_n)\n{{\n"
            f"    uint64_t r;\n    (void)r;\n    (void)arr_n;\n    return {body};\n}}\n\n")


def coll_note(fn):
    """In the wrapper: what a restart needs to post the collective again,
    when its inputs stay intact until it completes (no MPI_IN_PLACE, or
    one kept)."""
    names = {p.name for p in fn["params"]}
    cond = "1" if "sendbuf" not in names else "sendbuf != MPI_IN_PLACE"
    keep = ""
    if fn["name"] in NBC_INPLACE_KEPT:
        cond += " || kept_l != NULL"
        keep = "        d.owned[MANA_OWNED_KEPT] = kept_l;\n"
    stores = f"            d.live = live_{fn['name']};\n" + "".join(
        f"            d.coll_arr_n[{k}] = n_{p.name};\n"
        for k, p in enumerate(p for p in fn["params"] if p.role == "harr_in")) + "".join(
        f"            d.coll_args[{i}] = (uint64_t)" +
        (f"(uintptr_t){p.name};\n" if is_pointer(p) else f"(int64_t){p.name};\n")
        for i, p in enumerate(coll_arg_params(fn)))
    return (keep + f"        if ({cond}) {{\n            d.repost = repost_{fn['name']};\n" + stores + "        }\n"
            f"        mana_coll_note(&c, {comm_param(fn)}, &d);\n")


def tpl_nonblocking(fn):
    """A pending request: an id and a descriptor (request_info.h) that the
    checkpoint uses; a persistent one is also recorded for replay. Arrays
    of handles are kept until the request is released, since MPI may read
    them until then."""
    req = [p for p in fn["params"] if p.role == "hout" and p.kind == "VID_REQUEST"][0]
    others = [p for p in fn["params"] if p.role == "hout" and p is not req]
    owned = [p for p in fn["params"] if p.role == "harr_in"]
    gate = ""
    if fn["cls"] == "nonblocking" and request_kind(fn) == "MANA_REQ_COLLECTIVE":
        # Counted like a blocking collective, so that at a checkpoint every
        # member has posted it and the drain can complete it.
        if comm_param(fn) is None:
            raise ApiError(f"{fn['where']}: {fn['name']}: a nonblocking collective needs a communicator")
        gate = f"    mana_coll_enter(&c, {comm_param(fn)});\n"
    keep = nbc_keep(fn) if coll_repostable(fn) else ""
    code = (wrapper_head(fn) + gate + ins(fn, owned_arrays=True) + out_locals(fn) + keep + call_lower(fn) +
            consumed(fn))
    if others:   # Comm_idup's new communicator: recorded, replayed as a dup
        if not fn["recorded"]:
            raise ApiError(f"{fn['where']}: {fn['name']}: a nonblocking call making an object must be recorded")
        code += (f"    if (rc == MPI_SUCCESS && mana_record_{fn['name']}({helper_args(fn)}) == VID_INVALID)\n"
                 f"        rc = MPI_ERR_INTERN;\n")
    code += f"    if (rc == MPI_SUCCESS) {{\n        struct mana_request_info d = {descriptor(fn)};\n"
    if fn["cls"] == "nonblocking" and request_kind(fn) in SEND_KINDS:
        code += "        mana_p2p_count_sent(&c, comm, dest);\n"
    if owned:
        code += "".join(f"        mana_wrap_keep(&d, r_{p.name});\n" for p in owned)
    if coll_repostable(fn):
        code += coll_note(fn)
    elif others and fn["cls"] == "nonblocking" and request_kind(fn) == "MANA_REQ_COLLECTIVE":
        # Comm_idup: posted again after a restart, not replayed (mpi_idup.c).
        with_info = any(p.name == "info" for p in fn["params"])
        code += (f"        mana_idup_describe(&d, {comm_param(fn)}, {'info' if with_info else 'MPI_INFO_NULL'}, "
                 f"{int(with_info)}, *{others[0].name});\n"
                 f"        mana_coll_note(&c, {comm_param(fn)}, &d);\n")
    if fn["cls"] == "persistent" and fn["recorded"]:
        code += (f"        int32_t v = mana_record_{fn['name']}({helper_args(fn)});\n")
    elif others:
        code += f"        int32_t v = mana_request_out(MANA_REAL(o_{req.name}));\n"
    else:
        code += f"        int32_t v = mana_request_out(MANA_REAL(o_{req.name}));\n"
    code += (f"        if (v == VID_INVALID || mana_request_describe(v, &d) != 0)\n"
             f"            rc = MPI_ERR_INTERN;\n"
             f"        else\n            *{req.name} = (MPI_Request)v;\n    }}")
    frees = [f"r_{p.name}" for p in owned] + (["kept_l"] if keep else [])
    if frees:
        code += " else {\n" + "".join(f"        free({f});\n" for f in frees) + "    }\n"
    else:
        code += "\n"
    code += wrapper_tail(fn)
    return (coll_repost_fn(fn) + coll_live_fn(fn) if coll_repostable(fn) else "") + code


WAIT_LOOPS = {
    "MPI_Wait": "mana_wait_all(&c, 1, request, rq.real, st_p)",
    "MPI_Waitall": "mana_wait_all(&c, count, array_of_requests, rq.real, sts_p)",
    "MPI_Waitany": "mana_wait_any(&c, count, array_of_requests, rq.real, indx, st_p)",
    "MPI_Waitsome": "mana_wait_some(&c, incount, array_of_requests, rq.real, outcount, array_of_indices, sts_p)",
}


def tpl_completion(fn):
    """Wait/Test/Start families: the request ids in, the lower half's
    requests out; a request MPI freed (set to MPI_REQUEST_NULL) loses its
    id, and the application gets MPI_REQUEST_NULL as MPI gives it. The
    Wait family runs as a test loop (ckpt_sync.h); completed receives are
    counted, so statuses are always asked of MPI."""
    names = {p.name: p for p in fn["params"]}
    rp = [p for p in fn["params"] if p.role == "hreqs"][0]
    n = rp.len if rp.arr else "1"
    code = wrapper_head(fn)
    if fn["name"] in ("MPI_Start", "MPI_Startall"):
        # Its collectives' gates first: a restart may happen in one, and
        # the handles are translated after.
        code += f"    mana_start_gates(&c, {n}, {rp.name});\n"
    code += (f"    struct mana_reqs rq;\n"
             f"    if (mana_reqs_in(&rq, {rp.name}, {n}, \"{fn['name']}\") != 0) {{\n"
             f"        mana_cross_unlock(&c);\n        return MPI_ERR_NO_MEM;\n    }}\n")
    subst = {}
    if "status" in names:
        code += "    MPI_Status st_l;\n    MPI_Status *st_p = status == MPI_STATUS_IGNORE ? &st_l : status;\n"
        subst["status"] = "st_p"
    if "array_of_statuses" in names:
        code += (f"    MPI_Status *sts_p = array_of_statuses == MPI_STATUSES_IGNORE ? mana_status_scratch({n}) : "
                 f"array_of_statuses;\n"
                 f"    if (sts_p == NULL) {{\n        mana_cross_unlock(&c);\n        return MPI_ERR_NO_MEM;\n    }}\n")
        subst["array_of_statuses"] = "sts_p"
    if fn["name"] in WAIT_LOOPS:
        code += f"    int rc = {WAIT_LOOPS[fn['name']]};\n"
    else:
        args = ", ".join(subst.get(a.strip(), a.strip()) for a in call_args(fn).split(","))
        code += call_lower(fn, args)
    count = None
    if fn["name"] in ("MPI_Start", "MPI_Startall"):
        done = "MANA_REQS_STARTED, NULL, 0"
        code += f"    if (rc == MPI_SUCCESS)\n        mana_p2p_count_started(&c, {rp.name}, {n});\n"
    elif "indx" in names:
        flag = "(rc == MPI_SUCCESS && *flag)" if "flag" in names else "rc == MPI_SUCCESS"
        done = f"MANA_REQS_SOME, indx, {flag} && *indx != MPI_UNDEFINED ? 1 : 0"
        count = f"{flag} && *indx != MPI_UNDEFINED", f"{rp.name}, {n}, 0, indx, 1, st_p"
    elif "array_of_indices" in names:
        done = ("MANA_REQS_SOME, array_of_indices, rc == MPI_SUCCESS && *outcount != MPI_UNDEFINED ? "
                "*outcount : 0")
        count = ("rc == MPI_SUCCESS && *outcount != MPI_UNDEFINED",
                 f"{rp.name}, {n}, 0, array_of_indices, *outcount, sts_p")
    elif "flag" in names:
        done = "rc == MPI_SUCCESS && *flag ? MANA_REQS_ALL : MANA_REQS_NONE, NULL, 0"
        count = "rc == MPI_SUCCESS && *flag", f"{rp.name}, {n}, 1, NULL, 0, {subst.get('status', subst.get('array_of_statuses'))}"
    elif fn["name"] in ("MPI_Wait", "MPI_Waitall"):
        done = "MANA_REQS_ALL, NULL, 0"
        count = "rc == MPI_SUCCESS", f"{rp.name}, {n}, 1, NULL, 0, {subst.get('status', subst.get('array_of_statuses'))}"
    else:   # Cancel, Request_free: only what MPI freed changes
        done = "MANA_REQS_NONE, NULL, 0"
    if count is not None and fn["name"] != "MPI_Request_get_status":
        code += f"    if ({count[0]})\n        mana_p2p_count_completed(&c, {count[1]});\n"
    code += f"    mana_reqs_out(&rq, {rp.name}, {done});\n"
    return code + wrapper_tail(fn)


def tpl_finalize(fn):
    """MPI_Finalize is collective over MPI_COMM_WORLD and has no
    nonblocking form: gated and preceded by a barrier in the test loop,
    like the collective constructors."""
    return (wrapper_head(fn) + "    mana_coll_enter(&c, MPI_COMM_WORLD);\n"
            "    int rc = mana_coll_barrier(&c, MPI_COMM_WORLD);\n"
            "    if (rc == MPI_SUCCESS) {\n"
            "        mana_finalize_begin(&c);\n"
            "        mana_cross_to_lower(&c);\n        rc = mana_lower->mpi.MPI_Finalize();\n"
            "        mana_cross_to_upper(&c);\n    }\n" + wrapper_tail(fn))


TEMPLATES = {"local": tpl_call, "p2p": tpl_p2p, "collective": tpl_collective, "tools": tpl_call,
             "constructor": tpl_constructor, "mutator": tpl_mutator, "destructor": tpl_destructor,
             "nonblocking": tpl_nonblocking, "persistent": tpl_nonblocking, "completion": tpl_completion}


def gen_upper(funcs):
    out = [HEADER, '#include <stdlib.h>\n\n#include "ckpt_drain.h"\n#include "ckpt_sync.h"\n#include "crossing.h"\n#include "mpi_idup.h"\n#include "mpi_wrap.h"\n'
           '#include "upper_mpi_records.h"\n\n', repost_prototypes(funcs)]
    for fn in funcs:
        if fn["how"] != "pass":
            continue
        out.append(tpl_finalize(fn) if fn["name"] == "MPI_Finalize" else TEMPLATES[fn["cls"]](fn))
    return "".join(out)


# --- record helpers and replay -------------------------------------------

def record_sig(fn):
    """The record helper's parameters: the function's, with handles as
    virtual ids (int32_t) and outputs as the real handle (uint64_t)."""
    ps = []
    for p in fn["params"]:
        if p.role == "hout":
            ps.append(f"{p.base} *{p.name}, uint64_t real_{p.name}")
        elif p.role in ("hinptr", "hfree", "hconsume"):
            ps.append(f"int32_t {p.name}")
        else:
            ps.append(p.text)
    return ", ".join(ps) if ps else "void"


def blob_puts(fn, real_of):
    code, deps = "", []
    for p in fn["params"]:
        if p.role in ("hin", "hinptr"):
            deps.append(p.name)
        elif p.role == "harr_in":
            n = len_expr(fn, p, real_of)
            code += (f"    int64_t n_{p.name} = {p.name} ? (int64_t)({n}) : 0;\n"
                     f"    mana_blob_put(&b, &n_{p.name}, sizeof n_{p.name});\n")
            deps.append(("arr", p))
        elif p.role == "scalar":
            code += f"    mana_blob_put(&b, &{p.name}, sizeof {p.name});\n"
        elif p.role == "ptr":
            code += f"    mana_blob_put_ptr(&b, (const void *){p.name});\n"
        elif p.role == "str":
            code += f"    mana_blob_put_str(&b, {p.name});\n"
        elif p.role == "weights" and fn["recorded"]:
            if not p.len:
                raise ApiError(f"{fn['where']}: {fn['name']} is recorded: weights '{p.name}' needs len({p.name})=...")
            code += f"    mana_blob_put_weights(&b, {p.name}, {p.name} ? (int64_t)({len_expr(fn, p, real_of)}) : 0);\n"
        elif p.role == "array":
            if not p.len:
                if fn["cls"] in ("persistent",) or fn["recorded"] and p.const:
                    raise ApiError(f"{fn['where']}: {fn['name']} is recorded: input array '{p.name}' needs "
                                   f"len({p.name})=...")
                continue
            n = len_expr(fn, p, real_of)
            elem = f"sizeof *{p.name}" if not p.dims.startswith("[][") else f"sizeof {p.name}[0]"
            code += f"    mana_blob_put_array(&b, {p.name}, {p.name} ? (int64_t)({n}) : 0, {elem});\n"
    return code, deps


def gen_record_helper(fn):
    """mana_record_MPI_x: logs one successful call. For a constructor it
    also gives the new object its id, written to the output parameter's
    place and returned (VID_INVALID on failure)."""
    outs = [p for p in fn["params"] if p.role == "hout"]
    ret = "int32_t" if outs else "int"

    def real_of(name):
        return f"mana_wrap_real_of_vid({[p for p in fn['params'] if p.name == name][0].kind}, {name})"
    puts, deps = blob_puts(fn, real_of)
    code = f"{ret} mana_record_{fn['name']}({record_sig(fn)})\n{{\n    struct mana_blob b;\n    mana_blob_init(&b);\n"
    code += puts
    fixed = [d for d in deps if isinstance(d, str)]
    arrs = [d[1] for d in deps if not isinstance(d, str)]
    total = " + ".join([str(len(fixed))] + [f"n_{p.name}" for p in arrs])
    code += (f"    int32_t dsmall[MANA_WRAP_SMALL];\n"
             f"    int32_t *deps = mana_wrap_deps(dsmall, {total});\n"
             f"    size_t nd = 0;\n")
    for d in deps:
        if isinstance(d, str):
            code += f"    if (deps)\n        deps[nd++] = (int32_t){d};\n"
        else:
            a = d[1]
            code += (f"    for (int64_t i = 0; deps && i < n_{a.name}; i++)\n"
                     f"        deps[nd++] = (int32_t){a.name}[i];\n")
    op = rl_op(fn)
    if outs:
        p = outs[0]
        ref = "MANA_OUT_REF" if p.name in fn["ann"]["ref"] else "0"
        code += (f"    int32_t v = deps ? mana_handle_new({p.kind}, real_{p.name}, {ref}, {op}, deps, nd, &b, "
                 f"\"{fn['name']}\") : VID_INVALID;\n")
        code += f"    if (v != VID_INVALID)\n        *{p.name} = ({p.base})v;\n"
        res = "v"
    else:
        obj = [p for p in fn["params"] if p.role in ("hin", "hinptr")][0]
        code += (f"    int rc = deps ? mana_record_mutation({obj.kind}, (int32_t){obj.name}, {op}, deps, nd, &b, "
                 f"\"{fn['name']}\") : -1;\n")
        res = "rc"
    code += f"    mana_wrap_deps_done(deps, dsmall);\n    mana_blob_free(&b);\n    return {res};\n}}\n\n"
    return code


def gen_replay(fn):
    """replay_MPI_x: reads the record's blob and dependencies in the order
    the helper wrote them, calls the function on the lower half, and
    hands the new real handle to the replay engine."""
    target = fn["ann"]["replay"] or fn["name"]
    code = (f"static int replay_{fn['name']}(struct mana_replay *x, const struct rl_record *r)\n{{\n"
            f"    struct mana_blob_reader b;\n    mana_blob_reader_init(&b, r->blob, r->blob_len);\n"
            f"    unsigned d = 0;\n    (void)d;\n")
    args, post, obj = [], "", None
    for p in fn["params"]:
        a = "a_" + p.name   # never clashes with the function's own locals
        if p.role in ("hin", "hinptr"):
            code += f"    {p.base} {a} = ({p.base})mana_replay_dep(x, r, &d, {p.kind});\n"
            args.append(a if p.role == "hin" else f"&{a}")
            obj = obj or p
        elif p.role == "harr_in":
            code += (f"    int64_t n_{p.name};\n    mana_blob_get(&b, &n_{p.name}, sizeof n_{p.name});\n"
                     f"    {p.base} *{a} = mana_replay_deps(x, r, &d, {p.kind}, n_{p.name}, &b);\n")
            args.append(a)
        elif p.role == "scalar":
            code += f"    {p.decl(a)};\n    mana_blob_get(&b, &{a}, sizeof {a});\n"
            args.append(a)
        elif p.role == "ptr":
            code += f"    {p.decl(a)} = ({p.decl('')})mana_blob_get_ptr(&b);\n"
            args.append(a)
        elif p.role == "str":
            code += f"    const char *{a} = mana_blob_get_str(&b);\n"
            args.append(f"({p.decl('')}){a}" if not p.const else a)
        elif p.role == "weights":
            code += f"    int64_t n_{p.name};\n    int *{a} = mana_blob_get_weights(&b, &n_{p.name});\n"
            args.append(a)
        elif p.role == "array" and p.len:
            code += (f"    int64_t n_{p.name};\n"
                     f"    {p.decl(a, drop_const=True)} = mana_blob_get_array(&b, sizeof *{a}, &n_{p.name});\n")
            args.append(a)
        elif p.role == "hout":
            if p.kind == "VID_REQUEST" and fn["ann"]["replay"]:
                continue
            code += f"    {p.base} o_{p.name} = ({p.base}){null_of(p.kind)};\n"
            args.append(f"&o_{p.name}")
            post += f"    if (rc == MPI_SUCCESS)\n        mana_replay_out(x, r, 0, {p.kind}, MANA_REAL(o_{p.name}));\n"
        else:
            raise ApiError(f"{fn['where']}: {fn['name']}: cannot replay parameter '{p.text}' ({p.role})")
    if not post and obj is not None:   # a mutator: its object is its output
        val = "a_" + obj.name
        post = f"    if (rc == MPI_SUCCESS)\n        mana_replay_out(x, r, 0, {obj.kind}, MANA_REAL({val}));\n"
    code += (f"    if (!mana_blob_reader_ok(&b)) {{\n        mana_blob_reader_done(&b);\n"
             f"        return mana_replay_fail(x, r, \"its argument record is malformed\");\n    }}\n"
             f"    if (x->failed) {{\n        mana_blob_reader_done(&b);\n        return -1;\n    }}\n"
             f"    mana_cross_to_lower(&x->c);\n"
             f"    int rc = mana_lower->mpi.{target}({', '.join(args)});\n"
             f"    mana_cross_to_upper(&x->c);\n" + post +
             f"    mana_blob_reader_done(&b);\n    mana_replay_arrays_done(x);\n"
             f"    return rc == MPI_SUCCESS ? 0 : mana_replay_mpi_fail(x, r, rc);\n}}\n\n")
    return code


def gen_records(funcs):
    rec = [fn for fn in funcs if fn["recorded"]]
    h = [HEADER, "#ifndef MANA_UPPER_MPI_RECORDS_H\n#define MANA_UPPER_MPI_RECORDS_H\n\n#include <mpi.h>\n"
         "#include <stdint.h>\n\n"
         "/* Record helpers: log a successful call. A constructor's helper gives\n"
         " * the new object its id and writes it where the application's output\n"
         " * goes; 0 or -1 (persistent requests: the id or VID_INVALID). */\n"]
    c = [HEADER, '#include <stdlib.h>\n\n#include "crossing.h"\n#include "mpi_wrap.h"\n#include "mpi_replay.h"\n'
         '#include "upper_mpi_records.h"\n\n'
         '/* A record helper takes every parameter of its function, used or not\n'
         ' * (Comm_idup\'s request is not part of the communicator\'s record). */\n'
         '#pragma GCC diagnostic ignored "-Wunused-parameter"\n\n']
    for fn in rec:
        ret = "int32_t" if any(p.role == "hout" for p in fn["params"]) else "int"
        h.append(f"{ret} mana_record_{fn['name']}({record_sig(fn)});\n")
        c.append(gen_record_helper(fn))
        c.append(gen_replay(fn))
    h.append("\n#endif\n")
    c.append("const struct mana_replay_op mana_replay_ops[] = {\n")
    for fn in rec:
        outs = [p for p in fn["params"] if p.role == "hout"]
        kind = outs[0].kind if outs else [p for p in fn["params"] if p.role in ("hin", "hinptr")][0].kind
        c.append(f"    {{{rl_op(fn)}, \"{fn['name']}\", replay_{fn['name']}, {kind}, {0 if outs else 1}}},\n")
    c.append("};\nconst unsigned mana_replay_op_count = sizeof mana_replay_ops / sizeof mana_replay_ops[0];\n")
    return "".join(h), "".join(c)


def gen_lower(funcs):
    out = [HEADER, '#include "mpi_adapters.h"\n\n',
           "void mana_lower_fill_mpi_table(struct mana_mpi_table *t)\n{\n"]
    for fn in funcs:
        if not crosses(fn):
            continue
        target = f"mana_lh_{fn['name']}" if fn["how"] == "both" else fn["name"]
        out.append(f"    t->{fn['name']} = {target};\n")
    out.append("}\n")
    return "".join(out)


def gen_unsupported(funcs):
    out = [HEADER, '#include "crossing.h"\n\n',
           "/* The parameters exist only to match mpi.h. */\n",
           '#pragma GCC diagnostic ignored "-Wunused-parameter"\n\n']
    for fn in funcs:
        if fn["how"] not in UNSUPPORTED:
            continue
        out.append(f"{fn['ret']} {fn['name']}({fn['decl']})\n{{\n"
                   f"    mana_unsupported(\"{fn['name']}\");\n}}\n"
                   f"MANA_PMPI_ALIAS({fn['name']})\n\n")
    return "".join(out)


def gen_api_list(funcs):
    out = [HEADER, '#include "mpi_api_list.h"\n\n',
           "const struct mpi_api_entry mpi_api_list[] = {\n"]
    for fn in funcs:
        supported = 0 if fn["how"] in UNSUPPORTED else 1
        out.append(f'    {{"{fn["name"]}", {supported}}},\n')
    out.append("};\n\nconst unsigned mpi_api_count = sizeof mpi_api_list / sizeof mpi_api_list[0];\n")
    return "".join(out)


def main():
    if len(sys.argv) not in (3, 5):
        sys.exit("usage: gen_wrappers.py API_LIST OUTDIR [CONSTANTS OPENMPI]")
    try:
        funcs = parse(sys.argv[1])
        upper = gen_upper(funcs)
        rec_h, rec_c = gen_records(funcs)
        if len(sys.argv) == 5:
            groups = gen_abi.parse_constants(sys.argv[3])
            ompi = gen_abi.parse_openmpi(sys.argv[4], funcs)
            ompi_table = gen_abi.gen_ompi_table(funcs, ompi, crosses)
    except (ApiError, gen_abi.AbiError) as e:
        sys.exit(f"gen_wrappers: {e}")
    outdir = sys.argv[2]
    if len(sys.argv) == 5:
        write(f"{outdir}/abi_consts.h", gen_abi.gen_consts_header(groups))
        write(f"{outdir}/abi_consts_mpich.c", gen_abi.gen_consts_mpich(groups))
        write(f"{outdir}/abi_consts_ompi.c", gen_abi.gen_consts_ompi(groups))
        write(f"{outdir}/lower_ompi_table.c", ompi_table)
    write(f"{outdir}/mana_mpi_table.h", gen_table(funcs))
    write(f"{outdir}/upper_mpi_exports.c", upper)
    write(f"{outdir}/upper_mpi_records.h", rec_h)
    write(f"{outdir}/upper_mpi_records.c", rec_c)
    write(f"{outdir}/lower_mpi_table_fill.c", gen_lower(funcs))
    write(f"{outdir}/upper_mpi_unsupported.c", gen_unsupported(funcs))
    write(f"{outdir}/mpi_api_list.c", gen_api_list(funcs))
    write(f"{outdir}/mpi_exported_names.txt", "".join(f"{fn['name']}\n" for fn in funcs))


if __name__ == "__main__":
    main()
