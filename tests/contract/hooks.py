"""Schemathesis hooks for the contract run: how to make values of the document's own formats.

`cursor`: an opaque position the service hands out as `next_cursor`. The one cursor a client
can write without having been given it is the empty one (the first page); any other string of
the right alphabet is "a cursor the service did not issue" and rightly a 422."""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.format("cursor", st.just(""))
