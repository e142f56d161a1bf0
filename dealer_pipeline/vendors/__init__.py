"""Vendor clients: each speaks one vendor's contract through the shared HTTP layer."""
