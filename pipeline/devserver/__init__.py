"""The local SendGrid-compatible server, for development, demos and tests: it accepts
/v3/mail/send requests as SendGrid does (schema and rules), keeps each recipient's email to read
(pipeline.devserver.inbox, the staff pages' "Received mail") and posts signed Event Webhook
events, simulated engagement included in demo mode.

Development machinery: no production module imports this package (the import contracts in
pyproject.toml hold it). It plugs in through entry points: the "local" delivery backend and the
inbox pages, loaded only when a workspace's [delivery] backend is "local"."""
