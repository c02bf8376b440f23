"""Use cases. Each public function takes the Context and keyword arguments, and owns its transaction."""
