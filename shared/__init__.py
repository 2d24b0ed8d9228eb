"""What every paceline process needs: settings, models, keys, money, the ledger, the broker."""
