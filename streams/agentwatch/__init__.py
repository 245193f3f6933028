"""agentwatch: a stream processor for AI-agent telemetry beside the OpenTelemetry Collector."""

__version__ = "0.1.0"
