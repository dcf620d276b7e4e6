"""The outbox: starting a campaign (variants rendered and stored, audience materialised once) and
draining it (leased batches handed to the delivery backend, outcomes recorded, reconciled)."""

from pipeline.outbox.drain import DrainReport, default_worker_id, drain_outbox
from pipeline.outbox.start import OutboxSummary, StartReport, outbox_summary, start_campaign
from pipeline.store.sends import claim_batch, expire_leases, reconcile_unknown, record_results

__all__ = [
    "DrainReport",
    "OutboxSummary",
    "StartReport",
    "claim_batch",
    "default_worker_id",
    "drain_outbox",
    "expire_leases",
    "outbox_summary",
    "reconcile_unknown",
    "record_results",
    "start_campaign",
]
