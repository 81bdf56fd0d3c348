mod cboe;
mod deribit;
mod deribit_api;
mod fuzz;
mod generic;
mod ivtable;
mod optionmetrics;
mod outside_checks;
