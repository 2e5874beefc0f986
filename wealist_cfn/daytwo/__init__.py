"""Day-two commands on a deployed stack: diff, drift, outputs, events, destroy."""
