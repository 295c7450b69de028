"""psionic.cli: the ``psionic`` command, one module per verb group (the top floor)."""
