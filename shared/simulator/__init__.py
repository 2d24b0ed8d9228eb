"""An OpenAI-compatible provider simulator: the model policy, faults, usage and rate limits.

`app.build_app(config)` is the HTTP app; `server.serve(host, port, config)` runs it. The model's
decisions follow the shared policy (docs: the simulated model's policy) so the agent, the sample
tickets and the tests can all rely on the same behaviour.
"""
