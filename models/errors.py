"""The one base class for errors a user can fix.

Every layer raises subclasses of ``DomainLensError`` for problems the person at the
keyboard can act on (a missing file, a wrong column, a device this machine lacks, a
checkpoint from another domain). The CLI prints them as one line and the dashboard as
one message; anything else is a bug and is reported as one.
"""

from __future__ import annotations


class DomainLensError(Exception):
    """A problem the user can fix; the message says what is wrong and how to fix it."""
