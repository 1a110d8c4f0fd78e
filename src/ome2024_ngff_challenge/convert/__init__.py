"""The conversion: the input read into a plan (``plan``, ``layout``,
``details``), the unit of work that writes one shard (``shard_task``), the
output's life cycle (``output``) and ``resave``, which joins them to an
executor."""
