"""On-call's writes, one module per concern: ``schedules`` (schedules, layers, overrides,
swaps), ``policies`` (escalation policies and which services and teams use them) and
``escalations`` (the engine and the pages it sends). Import the module you need."""
