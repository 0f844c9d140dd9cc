"""Pure plans derived from the stack configuration (no I/O, no Pulumi)."""
