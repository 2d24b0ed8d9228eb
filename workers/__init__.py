"""Everything that takes work off the queue: actors, admission, the agent, replies, failures,
the scheduler."""
