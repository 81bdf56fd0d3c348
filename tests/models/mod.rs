mod sabr;
mod svi;
