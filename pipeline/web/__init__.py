"""The web side of clinicmail: the staff app, the JSON API and the public endpoints clients and
SendGrid reach, all served by one FastAPI application (pipeline.web.app.create_app)."""
