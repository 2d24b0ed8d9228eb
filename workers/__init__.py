"""Everything that takes work off the queue: actors, admission, the agent, failures, scheduler."""
