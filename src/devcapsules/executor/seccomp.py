"""The seccomp filter every sandboxed program runs under: a classic-BPF deny list,
assembled here in pure Python and handed to bwrap (`--seccomp FD`), which installs it
right before it executes the launcher (inherited by everything the run starts).

Denied: what a program never needs and kernel exploits love. io_uring (its own, hard to
filter, syscall surface), ptrace and cross-process memory/fd access, the keyring, eBPF,
perf events, userfaultfd, POSIX message queues (`mq_open`: a queue lives in the IPC
namespace a batch's programs share, and nothing inside can list it to remove it between
programs; no toolchain needs one), every mount/namespace call (`unshare`, `setns`, `clone` with a
CLONE_NEW* flag), kernel modules and kexec, and the admin calls (reboot, swap, acct,
quotactl, syslog...). Denied calls fail with EPERM (ENOSYS for io_uring and clone3, so
libuv and glibc take their usual fallbacks: clone3's flags sit behind a pointer the
filter cannot read, plain clone's are checked). Everything else is allowed: a deny list
keeps every toolchain working, and the namespaces, rlimits and cgroup do the rest.

Architecture: the filter only answers for the host's own syscall ABI; a call made through
another one (x86's 32-bit int 0x80, x32) kills the process, since its numbers differ.
"""

from __future__ import annotations

import errno
import functools
import platform
import struct

# struct seccomp_data offsets, and the classic-BPF opcodes we use.
_NR, _ARCH, _ARG0 = 0, 4, 16
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _KILL_PROCESS, _ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_X32_BIT = 0x40000000
CLONE_NEW_FLAGS = (
    0x00000080  # CLONE_NEWTIME
    | 0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
)

ENOSYS_CALLS = ("io_uring_setup", "io_uring_enter", "io_uring_register", "clone3")
EPERM_CALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "mount", "umount2", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount",
    "fspick", "mount_setattr", "pivot_root", "chroot", "unshare", "setns",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog",
    "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "fanotify_init",
    "vhangup", "nfsservctl", "mq_open",
    # x86_64 only (absent from the generic table aarch64 uses)
    "uselib", "ioperm", "iopl", "create_module", "get_kernel_syms", "query_module",
    "_sysctl",
)  # fmt: skip

# Syscall numbers (from the kernel's uapi headers: asm/unistd_64.h, asm-generic/unistd.h).
_X86_64 = {
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "clone3": 435,
    "clone": 56, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
    "kcmp": 312, "pidfd_getfd": 438, "keyctl": 250, "add_key": 248, "request_key": 249,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "mount": 165, "umount2": 166,
    "move_mount": 429, "open_tree": 428, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "mount_setattr": 442, "pivot_root": 155, "chroot": 161, "unshare": 272,
    "setns": 308, "init_module": 175, "finit_module": 313, "delete_module": 176,
    "kexec_load": 246, "kexec_file_load": 320, "reboot": 169, "swapon": 167, "swapoff": 168,
    "acct": 163, "quotactl": 179, "quotactl_fd": 443, "syslog": 103,
    "open_by_handle_at": 304, "name_to_handle_at": 303, "lookup_dcookie": 212,
    "fanotify_init": 300, "vhangup": 153, "nfsservctl": 180, "uselib": 134, "ioperm": 173,
    "iopl": 172, "create_module": 174, "get_kernel_syms": 177, "query_module": 178,
    "_sysctl": 156, "mq_open": 240,
}  # fmt: skip
_AARCH64 = {
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "clone3": 435,
    "clone": 220, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
    "kcmp": 272, "pidfd_getfd": 438, "keyctl": 219, "add_key": 217, "request_key": 218,
    "bpf": 280, "perf_event_open": 241, "userfaultfd": 282, "mount": 40, "umount2": 39,
    "move_mount": 429, "open_tree": 428, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "mount_setattr": 442, "pivot_root": 41, "chroot": 51, "unshare": 97,
    "setns": 268, "init_module": 105, "finit_module": 273, "delete_module": 106,
    "kexec_load": 104, "kexec_file_load": 294, "reboot": 142, "swapon": 224, "swapoff": 225,
    "acct": 89, "quotactl": 60, "quotactl_fd": 443, "syslog": 116,
    "open_by_handle_at": 265, "name_to_handle_at": 264, "lookup_dcookie": 18,
    "fanotify_init": 262, "vhangup": 58, "nfsservctl": 42, "mq_open": 180,
}  # fmt: skip
# machine -> (AUDIT_ARCH_*, syscall table, has the x32 ABI to refuse)
ARCHES = {
    "x86_64": (0xC000003E, _X86_64, True),
    "aarch64": (0xC00000B7, _AARCH64, False),
}


class UnsupportedArchitecture(RuntimeError):
    pass


@functools.cache
def program(machine: str | None = None) -> bytes:
    """The compiled filter (struct sock_filter[]) for `machine` (default: this host's)."""
    machine = machine or platform.machine()
    if machine not in ARCHES:
        raise UnsupportedArchitecture(f"no seccomp filter for the {machine} architecture")
    arch, table, has_x32 = ARCHES[machine]
    code = _Assembler()
    code.load(_ARCH)
    code.jump(_JEQ_K, arch, false="kill")
    code.load(_NR)
    if has_x32:
        code.jump(_JGE_K, _X32_BIT, true="enosys")
    for name in ENOSYS_CALLS:
        code.jump(_JEQ_K, table[name], true="enosys")
    for name in EPERM_CALLS:
        if name in table:
            code.jump(_JEQ_K, table[name], true="eperm")
    code.jump(_JEQ_K, table["clone"], false="allow")
    code.load(_ARG0)  # clone's flags (the low 32 bits, little-endian)
    code.jump(_JSET_K, CLONE_NEW_FLAGS, true="eperm", false="allow")
    code.label("allow").ret(_ALLOW)
    code.label("eperm").ret(_ERRNO | errno.EPERM)
    code.label("enosys").ret(_ERRNO | errno.ENOSYS)
    code.label("kill").ret(_KILL_PROCESS)
    return code.assemble()


class _Assembler:
    """Classic BPF with forward jumps to named labels (offsets resolved at the end)."""

    def __init__(self) -> None:
        self.code: list[tuple[int, str | None, str | None, int]] = []
        self.labels: dict[str, int] = {}

    def load(self, offset: int) -> None:
        self.code.append((_LD_W_ABS, None, None, offset))

    def jump(self, op: int, k: int, *, true: str | None = None, false: str | None = None):
        self.code.append((op, true, false, k))

    def ret(self, value: int) -> _Assembler:
        self.code.append((_RET_K, None, None, value))
        return self

    def label(self, name: str) -> _Assembler:
        self.labels[name] = len(self.code)
        return self

    def assemble(self) -> bytes:
        out = bytearray()
        for pc, (op, true, false, k) in enumerate(self.code):
            jt, jf = (self._offset(pc, name) for name in (true, false))
            out += struct.pack("=HBBI", op, jt, jf, k)
        return bytes(out)

    def _offset(self, pc: int, label: str | None) -> int:
        if label is None:
            return 0  # fall through
        offset = self.labels[label] - pc - 1
        if not 0 <= offset <= 255:
            raise ValueError(f"jump to {label} out of range ({offset})")
        return offset
