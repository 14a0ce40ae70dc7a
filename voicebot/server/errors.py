"""Close codes and StreamError, which live with the carriers (`telephony.carriers.errors`).

Re-exported here for the server's own modules (admission, the compliance gate) that refuse a
stream without knowing which carrier it came from.
"""

from telephony.carriers.errors import (  # noqa: F401
    BAD_MEDIA, BAD_MESSAGE, BAD_START, FRAME_TOO_LARGE, NORMAL, REASON_MAX_BYTES, SERVER_ERROR,
    TIMED_OUT, TOO_MANY_OPENING, TRY_AGAIN_LATER, UNAUTHORIZED, UNKNOWN_ACCOUNT, StreamError,
    check_size, clip_reason, parse_event,
)
