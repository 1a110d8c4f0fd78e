"""Where bytes live: one Store interface (base), a local folder, S3, HTTP(S), and
`open_store`, which turns what the user typed into one of them."""

from .base import Store, join
from .local import LocalStore
from .open import open_store, read_location

__all__ = ["LocalStore", "Store", "join", "open_store", "read_location"]
