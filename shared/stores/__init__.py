"""Redis stores both sides use: outcomes, dead letters, parking, circuit, limits, gauges."""
