"""Local, faithful emulators of the outside services (Zendesk, Zoho CRM) for tests, benchmarks and the demo."""
