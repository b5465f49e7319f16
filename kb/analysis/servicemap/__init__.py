"""The service map: who calls whom and how, with evidence, and the analyses over it."""
