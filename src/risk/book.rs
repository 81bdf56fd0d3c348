//! Books of positions: `BOOK.csv`.
