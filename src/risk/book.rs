//! Books of positions (`BOOK.csv`): not written yet (issue 18). Book greeks are, until then,
//! the sum of [`position_greeks`](super::greeks::position_greeks) over the positions.
