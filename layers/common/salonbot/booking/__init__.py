"""Booking domain: salon catalogue, availability engine, booking store."""
