mod lm;
mod nist;
mod sabr;
mod svi;
