"""Delivery: the Backend protocol (pipeline.delivery.backend), its backends (SendGrid, SMTP, file),
the sending processes, and open_backend choosing one from settings (pipeline.delivery.backends).
Callers import from the module they need: a sending process needs its own backend, not the
others and their HTTP clients."""
