"""The stacks of one environment, in deploy order."""
