"""One module per nested stack, each with ``build(settings) -> Template``."""
