"""Admission: a ticket runs only when the money to answer it exists."""
