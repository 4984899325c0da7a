"""The HTTP service: saved models answer over HTTP (``needmap serve``, docs/service.md).

One module per job: :mod:`~needmap.serve.settings` (what the command sets, and how a worker reads it back),
:mod:`~needmap.serve.registry` (the loaded models, their versions, reloads swapped in one step),
:mod:`~needmap.serve.scorers` (what each kind of model answers), :mod:`~needmap.serve.rows` (JSON rows to an
Arrow table and back), :mod:`~needmap.serve.bodies` (request and response models made from each model's
schema), :mod:`~needmap.serve.routes` (needmap's own routes), :mod:`~needmap.serve.oip` (the Open Inference
Protocol's), :mod:`~needmap.serve.openapi` (the described API), :mod:`~needmap.serve.auth` (API keys),
:mod:`~needmap.serve.limits` (body size, rows, time), :mod:`~needmap.serve.metrics` (Prometheus),
:mod:`~needmap.serve.errors` (every failure as JSON, never a traceback) and :mod:`~needmap.serve.app`, which
puts them together.

Importing this package imports none of its modules: FastAPI and uvicorn load when a service is built.
"""
