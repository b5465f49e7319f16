"""kb over the Model Context Protocol: `kb mcp`, a thin adapter over kb's public API.

Coding agents see one repository at a time; kb holds what the others, the ADRs and the
incident channels know. The tools (kb_mcp.tools) and resources (kb_mcp.resources) each
call one KB method and return its result's JSON and markdown.
"""
