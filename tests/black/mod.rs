mod bachelier;
mod batch;
mod greeks;
mod implied_vol;
mod lets_be_rational_reference;
mod normalised;
mod special;
