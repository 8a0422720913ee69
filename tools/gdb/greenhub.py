# greenhub's gdb commands: the greenlets of a live process or a core file.
#
#   info greenlets        every greenlet of every hub: id, hub, OS thread,
#                         state, name, what it waits on and on which fd
#   greenlet bt ID        the backtrace of a switched-out greenlet, unwound
#                         by gdb (DWARF) from its saved context
#
# Load it with `source /path/to/tools/gdb/greenhub.py`; an installed
# greenhub has it auto-loaded with libgreenhub_preload.so (see README, "gdb").
#
# How it works
#   Hubs: each hub is the thread-local greenhub::detail::tls_hub of its OS
#   thread; the commands read it in every thread of the inferior (libthread_db
#   gives gdb thread-local storage in live processes and core files alike).
#   A hub lists its greenlets: main_ (the OS thread's own stack) and the
#   intrusive live list live_head_ -> live_next_. The preload's green threads
#   are GreenThread objects (their pthread name is thread_name).
#
#   Backtraces: a greenlet that is not running was switched out by
#   Boost.Context's jump_fcontext, which left on the greenlet's stack, at
#   GreenletBase::context_, its callee-saved registers and return address
#   (1.74, x86-64 SysV: mxcsr/fpu cw, r12, r13, r14, r15, rbx, rbp, rip; the
#   stack pointer after the jump's return is context_ + 0x40). `greenlet bt`
#   installs for one backtrace a Python frame unwinder that claims the
#   selected thread's innermost frame and gives those saved registers as its
#   caller's: gdb then unwinds the greenlet's stack with its usual DWARF
#   unwinder, without writing any register (so it works on core files), and
#   the frames after the first are the greenlet's. The unwinder is removed
#   and gdb's frame cache flushed afterwards.
#
# Requires the inferior's debug information for libgreenhub (the types of
# Hub and GreenletBase). Core files: use the kernel's core dump; gdb 13's
# gcore writes a stack slab with guard regions (MADV_GUARD_INSTALL, which
# the stack pool uses where the kernel has it) as zeros, so a gcore file has
# the greenlet list but no saved contexts to unwind.

import gdb
import gdb.unwinder

STATES = ["new", "runnable", "running", "parked", "dead"]

# Words of the block jump_fcontext saves (Boost.Context 1.74, x86-64 SysV).
SAVED_REGISTERS = [("r12", 1), ("r13", 2), ("r14", 3), ("r15", 4), ("rbx", 5), ("rbp", 6),
                   ("rip", 7)]
SAVED_BLOCK_BYTES = 0x40


def _u64():
    return gdb.lookup_type("unsigned long")


def _shared_ptr_get(value):
    return value["_M_ptr"]


def _std_string(value):
    try:
        return value["_M_dataplus"]["_M_p"].string()
    except gdb.error:
        return str(value)


def _c_string(ptr):
    if int(ptr) == 0:
        return None
    try:
        return ptr.string()
    except gdb.error:
        return "?"


class GreenletInfo:
    def __init__(self, ptr, hub_id, thread_num):
        self.ptr = ptr  # greenhub::GreenletBase*
        g = ptr.dereference()
        self.id = int(g["id_"])
        self.hub_id = hub_id
        self.thread_num = thread_num
        state = int(g["state_"])
        self.state = STATES[state] if 0 <= state < len(STATES) else str(state)
        self.name = _std_string(g["name_"])
        self.is_main = bool(g["is_main_"])
        self.context = int(g["context_"].cast(_u64()))
        self.waiting_on = None
        self.fd = None
        if self.state == "parked":
            self.waiting_on = _c_string(g["waiting_on_"]) or "park"
            try:
                fd = int(g["waiting_fd_"])
                self.fd = fd if fd >= 0 else None
            except gdb.error:
                pass
        try:
            dyn = ptr.dynamic_type
            if "GreenThread" in str(dyn):
                thread = ptr.cast(dyn).dereference()
                thread_name = thread["thread_name"].string()
                if thread_name:
                    self.name = thread_name
        except gdb.error:
            pass


def _is_runtime_hub_thread():
    """Whether the selected thread is one of the preload's hub threads."""
    try:
        flag = gdb.parse_and_eval("'greenhub::preload::(anonymous namespace)::runtime_hub_thread'")
        return bool(flag)
    except gdb.error:
        return False


def _hubs():
    """[(hub pointer, gdb thread number, runtime hub thread)] of every thread with a hub."""
    hubs = []
    seen = set()
    inferior = gdb.selected_inferior()
    original = gdb.selected_thread()
    try:
        for thread in sorted(inferior.threads(), key=lambda t: t.num):
            thread.switch()
            try:
                hub = gdb.parse_and_eval("'greenhub::detail::tls_hub'")
            except gdb.error:
                continue
            address = int(hub.cast(_u64()))
            if address != 0 and address not in seen:
                seen.add(address)
                hubs.append((hub, thread.num, _is_runtime_hub_thread()))
    finally:
        if original is not None and original.is_valid():
            original.switch()
    if not hubs:
        raise gdb.GdbError("no greenhub hub found (is libgreenhub or libgreenhub_preload.so "
                           "loaded, with its debug information?)")
    return hubs


def greenlets(include_runtime=False):
    """The greenlets of every hub. A preload hub thread's main greenlet only
    runs its hub (Hub::run_forever): it is listed with include_runtime."""
    out = []
    for hub, thread_num, runtime_thread in _hubs():
        h = hub.dereference()
        hub_id = int(h["id_"])
        main = _shared_ptr_get(h["main_"])
        if int(main.cast(_u64())) != 0 and (include_runtime or not runtime_thread):
            out.append(GreenletInfo(main, hub_id, thread_num))
        g = h["live_head_"]
        count = 0
        while int(g.cast(_u64())) != 0 and count < 1_000_000:
            out.append(GreenletInfo(g, hub_id, thread_num))
            g = g.dereference()["live_next_"]
            count += 1
    out.sort(key=lambda x: (x.hub_id, x.id))
    return out


class InfoGreenlets(gdb.Command):
    """List the greenlets of every hub: info greenlets [-a]
-a also lists the main greenlets of the preload's hub threads (which only run their hub)."""

    def __init__(self):
        super().__init__("info greenlets", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        args = gdb.string_to_argv(arg)
        if args not in ([], ["-a"]):
            raise gdb.GdbError("usage: info greenlets [-a]")
        rows = greenlets(include_runtime=args == ["-a"])
        gdb.write(f"{'ID':>7} {'HUB':>3} {'THREAD':>6}  {'STATE':<8} {'NAME':<16} WAITING ON\n")
        for g in rows:
            waiting = ""
            if g.waiting_on is not None:
                waiting = g.waiting_on + (f" fd {g.fd}" if g.fd is not None else "")
            name = g.name + (" (main)" if g.is_main and g.name != "main" else "")
            gdb.write(f"{g.id:>7} {g.hub_id:>3} {g.thread_num:>6}  {g.state:<8} {name:<16} "
                      f"{waiting}\n")
        gdb.write(f"{len(rows)} greenlets\n")


class _FrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class SavedContextUnwinder(gdb.unwinder.Unwinder):
    """Makes the innermost frame's caller the greenlet's saved context."""

    def __init__(self):
        super().__init__("greenhub-greenlet")
        self.registers = None
        self.level = 0  # the innermost frame that is not an inlined call

    def __call__(self, pending_frame):
        if self.registers is None or pending_frame.level() != self.level:
            return None
        sp = pending_frame.read_register("rsp")
        pc = pending_frame.read_register("rip")
        info = pending_frame.create_unwind_info(_FrameId(sp, pc))
        for name, value in self.registers.items():
            info.add_saved_register(name, value)
        return info


_unwinder = SavedContextUnwinder()
gdb.unwinder.register_unwinder(None, _unwinder, replace=True)


def _format_frame(index, frame):
    pc = frame.pc()
    name = frame.name() or "??"
    text = f"#{index:<2} 0x{pc:016x} in {name}"
    sal = frame.find_sal()
    if sal.symtab is not None and sal.line:
        text += f" at {sal.symtab.filename}:{sal.line}"
    else:
        solib = gdb.solib_name(pc)
        if solib:
            text += f" from {solib}"
    return text


def greenlet_backtrace(g, limit=64):
    """The frames of a switched-out greenlet, as lines of text."""
    if g.state in ("running",):
        raise gdb.GdbError(f"greenlet {g.id} is running on thread {g.thread_num}: "
                           f"use `thread {g.thread_num}` and `bt`")
    if g.state in ("new", "dead") or g.context == 0:
        raise gdb.GdbError(f"greenlet {g.id} is {g.state}: it has no saved context")
    arch = gdb.selected_inferior().architecture().name()
    if "x86-64" not in arch:
        raise gdb.GdbError(f"greenlet bt reads x86-64 saved contexts; this is {arch}")
    u64p = _u64().pointer()
    block = gdb.Value(g.context).cast(u64p)
    registers = {name: (block + word).dereference() for name, word in SAVED_REGISTERS}
    registers["rsp"] = gdb.Value(g.context + SAVED_BLOCK_BYTES).cast(_u64())
    lines = []
    # The thread's innermost frames may be inlined calls, which gdb unwinds
    # without asking Python: claim the first real frame.
    gdb.invalidate_cached_frames()
    level = 0
    frame = gdb.newest_frame()
    while frame is not None and frame.type() == gdb.INLINE_FRAME:
        frame = frame.older()
        level += 1
    _unwinder.level = level
    _unwinder.registers = registers
    gdb.invalidate_cached_frames()
    try:
        frame = gdb.newest_frame()
        for _ in range(level + 1):
            frame = frame.older() if frame is not None else None
        index = 0
        while frame is not None and index < limit and frame.pc() != 0:
            lines.append(_format_frame(index, frame))
            index += 1
            try:
                frame = frame.older()
            except gdb.error:
                break
    finally:
        _unwinder.registers = None
        gdb.invalidate_cached_frames()
    return lines


class GreenletPrefix(gdb.Command):
    """greenhub greenlet commands: greenlet bt ID"""

    def __init__(self):
        super().__init__("greenlet", gdb.COMMAND_STACK, prefix=True)


class GreenletBt(gdb.Command):
    """Backtrace of a switched-out greenlet: greenlet bt ID (ids from `info greenlets`)"""

    def __init__(self):
        super().__init__("greenlet bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        args = gdb.string_to_argv(arg)
        if len(args) != 1 or not args[0].isdigit():
            raise gdb.GdbError("usage: greenlet bt ID (ids from `info greenlets`)")
        wanted = int(args[0])
        for g in greenlets(include_runtime=True):
            if g.id == wanted:
                waiting = f" in {g.waiting_on}" if g.waiting_on else ""
                waiting += f" fd {g.fd}" if g.fd is not None else ""
                gdb.write(f"greenlet {g.id} \"{g.name}\" hub {g.hub_id} (thread {g.thread_num}): "
                          f"{g.state}{waiting}\n")
                for line in greenlet_backtrace(g):
                    gdb.write(line + "\n")
                return
        raise gdb.GdbError(f"no greenlet {wanted} (see `info greenlets`)")


InfoGreenlets()
GreenletPrefix()
GreenletBt()
