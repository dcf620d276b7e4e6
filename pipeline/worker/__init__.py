"""The worker: the scheduler (pipeline.worker.scheduler: APScheduler, the outbox drain loop),
the single-active-scheduler guard, and what a trigger runs (campaign starts, digest occurrences,
feed polls)."""
