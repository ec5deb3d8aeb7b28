"""`studio serve`: the engine over HTTP and WebSocket (protocol v1), and the remote
engine the window uses against it. See protocol.py for the wire format, app.py for the
routes, clients.py for who sees what and how long results are kept."""
