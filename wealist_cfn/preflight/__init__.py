"""Know before you deploy: read-only preflight checks of what the stack
assumes (:mod:`.checks`), and the monthly on-demand cost of each mode
(:mod:`.cost`, prices in ``prices/<region>.json``)."""
