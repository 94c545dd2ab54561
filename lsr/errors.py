"""The one exception type that lsr raises for problems a user can fix, and the one line that explains a system's refusal."""

import errno


class LsrError(Exception):
    """A user-facing error: bad input, a missing file or dependency, a wrong setting.

    The message names what is wrong and where (file, line, field). The command-line interface
    prints it without a traceback and exits with status 2.
    """


HINTS = {errno.ENOSPC: "free some space or write elsewhere (--out-dir / --output)", errno.EDQUOT: "free some space or write elsewhere",
         errno.EROFS: "write to a writable folder (--out-dir / --output)", errno.EACCES: "write to a folder you may write to",
         errno.EPERM: "write to a folder you may write to"}


def system_error(error: OSError) -> str:
    """One line for an error the system gave (a full or read-only disk, a missing permission): the path, the system's reason, and
    what to do where that is clear. What lsr wrote so far was written beside its target and is removed; nothing complete was replaced."""
    where = f"{error.filename}: " if error.filename else ""
    hint = HINTS.get(error.errno)
    reason = error.strerror or " ".join(str(error).split())
    return f"{where}{reason}" + (f"; {hint}" if hint else "")
