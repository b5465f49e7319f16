"""What connectors and kb agree on: kinds, records, the connector protocol, shared rules.

The bottom layer of kb (above only settings and errors). A connector imports from here and
nowhere else in kb; so do the rules two connectors must share (people's identities, incident
keys, web links to a repository's files).
"""
