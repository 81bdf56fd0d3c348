mod calibrate;
mod sabr;
mod svi;
