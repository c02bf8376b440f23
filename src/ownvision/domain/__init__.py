"""Plain values and rules of the Custom Vision model: enums, domains, limits. No I/O."""
