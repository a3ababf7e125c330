"""Channel adapters: each turns a provider's payload into one neutral message and renders replies back."""
