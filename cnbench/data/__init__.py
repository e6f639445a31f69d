"""Examples: what a task's loader yields, and the readers that build them from files or the Hub."""
