-- The partition of ticker.spread_observations for one UTC day, if it does not exist.

select ticker.create_spread_observations_day(%(day)s::date)
