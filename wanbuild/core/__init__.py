"""Pure decisions: prompt compilation, step arithmetic, lint rules. No I/O, no clock, no env."""
