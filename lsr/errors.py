"""The one exception type that lsr raises for problems a user can fix."""


class LsrError(Exception):
    """A user-facing error: bad input, a missing file or dependency, a wrong setting.

    The message names what is wrong and where (file, line, field). The command-line interface
    prints it without a traceback and exits with status 2.
    """
