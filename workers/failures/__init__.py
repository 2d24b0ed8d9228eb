"""Failure handling: the one call that records a dead letter, the retry policy, durable retries."""
