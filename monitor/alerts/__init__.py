"""Built-in alerting: pure rules and engine, notifiers, silences."""
