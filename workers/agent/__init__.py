"""One support agent with tools, bounded in steps, time and money, guarded against injection.

`runner.Agent.run(ticket, budget)` is the whole flow; see runner.py first.
"""
