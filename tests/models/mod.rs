mod calibrate;
mod sabr;
mod spline;
mod svi;
