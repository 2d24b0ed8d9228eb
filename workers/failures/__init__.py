"""Failure handling: the retry policy, the provider circuit breaker, the dead-letter registry."""
