mod lm;
mod nist;
mod svi;
