"""Zarr, read and written without zarr-python on the hot path: v2 arrays read
exactly (``v2``), v3 metadata and codecs as we write them (``v3_metadata``,
``codecs``, ``sharding``, ``chunk_keys``), and v3 arrays read back for checking
(``v3_read``)."""
