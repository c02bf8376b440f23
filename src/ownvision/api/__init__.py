"""The HTTP layer: the Custom Vision v3.x wire format over the services. Routes parse, call, serialise."""
