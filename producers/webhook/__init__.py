"""The webhook app: verify, dedupe, enqueue, answer in milliseconds."""
