"""Preprocessing: the preprocessor fitted on the training rows, its column encoders, the encoded batch and
the printed schema. (``needmap.features``, the function, builds a feature table from an event log:
:mod:`needmap.events`.)"""
