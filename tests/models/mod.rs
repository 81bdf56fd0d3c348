mod svi;
