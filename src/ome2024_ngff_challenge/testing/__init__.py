"""Example and test data: OME-Zarr 0.4 datasets written byte by byte (``samples``, ``v2_writer``). Shipped for the `example` command; the test suite builds its inputs with it."""
