"""pubsafe: the operator CLI and the narrated demo, on top of refimpl and faults."""
