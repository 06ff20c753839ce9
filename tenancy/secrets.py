"""Secret setting types of both planes: tokens that never print and are long enough.

``SecretStr`` keeps a token out of reprs, logs and tracebacks (``**********``); its
length bound refuses a guessable one at start-up, whichever plane reads it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr

#: Fewest characters of a shared token (admin, region, previous region token).
TOKEN_MIN_LENGTH = 24

#: A bearer token one service presents to another (the operator's, a region's).
Token = Annotated[SecretStr, Field(min_length=TOKEN_MIN_LENGTH)]
