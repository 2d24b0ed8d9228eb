"""Everything that puts work on the queue: webhooks, the enqueue API, replay, redrive."""
