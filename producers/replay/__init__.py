"""Replaying historical tickets into the replay lane: read, map, price, enqueue."""
