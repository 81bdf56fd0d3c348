mod lm;
mod nist;
