"""Guides people read: incident trace plans, log stitching, onboarding, agent context."""
