"""What a worker does with a job: fetch → run → upload → events, plus webhooks and generation."""
