-- Drop the partition of one UTC day of ticker.spread_observations: every row of the day at
-- once, without a delete's dead rows. The retention job calls it only for a proven day.

select ticker.drop_spread_observations_day(%(day)s::date)
