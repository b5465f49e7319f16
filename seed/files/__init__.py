"""File contents and scripted history of each demo repository."""
