-- Schema `core`: the modelled facts and dimensions, rebuilt from `raw` on every load.
create schema if not exists core;
