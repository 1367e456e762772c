"""Operating-system errors (full disk, quota, permissions, NFS, damaged media) as one line naming the file."""

from __future__ import annotations

import errno
import os
import re

CAUSES = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ESTALE: "stale file handle (the file changed or vanished on a network filesystem)",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "no such file or directory",
    errno.EIO: "input/output error (failing disk or network filesystem)",
    errno.EFBIG: "file too large",
    errno.ENAMETOOLONG: "file name too long",
    errno.ENOTDIR: "not a directory",
    errno.EISDIR: "is a directory",
    errno.EMFILE: "too many open files",
}


def cause(e: OSError) -> str:
    """The cause of ``e`` in words (its errno's, else the first line of its message)."""
    if e.errno in CAUSES:
        return CAUSES[e.errno]
    if e.errno:
        return os.strerror(e.errno).lower()
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def describe(e: OSError) -> str:
    """One line: ``<file>: <cause>`` (``<file> -> <file2>`` for a rename), or the cause alone when no file is known."""
    names = " -> ".join(str(os.fsdecode(f)) for f in (e.filename, e.filename2) if f is not None)
    line = f"{names}: {cause(e)}" if names else cause(e)
    return " ".join(line.split())  # one line, whatever a library put in its message


def from_message(message: str, filename: str | os.PathLike | None = None) -> OSError | None:
    """An OSError for a library error that carries an OS error only in its text (safetensors' Rust
    ``(os error 28)``, h5py's ``errno = 28``), or None when the text names none."""
    m = re.search(r"(?:os error|code:|errno\s*=)\s*(\d+)", message)
    if not m:
        return None
    code = int(m.group(1))
    return OSError(code, os.strerror(code), None if filename is None else os.fspath(filename))
