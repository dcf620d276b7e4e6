"""Bookings: importing the booking system's appointments export (importer) and the figures
that credit bookings and revenue to campaign emails (figures)."""
