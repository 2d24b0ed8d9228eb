"""The demo's sample order system: data, its HTTP routes (served by `paceline simulator`) and
the demo tenants file whose connectors point at it."""
