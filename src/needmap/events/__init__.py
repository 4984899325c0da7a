"""Behaviour logs (purchases, views, visits) turned into one row per customer and cutoff date.

:mod:`needmap.events.table_info` is the contract between the feature builder and the rest of needmap:
the :class:`EventSpec` a log is read with (saved with a model, so that today's log becomes today's
features the same way) and the :class:`FeatureTableInfo` a feature table carries in its schema metadata
(which column holds the customer, which the cutoff, which columns are labels).
:mod:`needmap.events.generate` makes purchase logs whose truth is known (docs/generator.md).
"""
