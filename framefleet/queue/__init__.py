"""Jobs and the queue: the job model and stores, brokers from URLs, actors, and the client."""
