-- Whether any sampler ever recorded a second (observed, held or gap) into this warehouse.

select exists (select 1 from ticker.spread_observations) as recorded
