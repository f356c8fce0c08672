"""One module per resource, each with a ``router``; ``openbms.api.app`` lists the modules it mounts."""
