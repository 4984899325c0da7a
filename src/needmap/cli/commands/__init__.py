"""One module per command; each registers itself on :data:`needmap.cli.base.app` when imported."""
