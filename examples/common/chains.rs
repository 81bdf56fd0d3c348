//! The option-chain files of `../shared/data` (relative to it), shared by the examples that
//! run on every real chain and by the test suite (`tests/common`).

/// Every option-chain file of `../shared/data`.
pub const CHAIN_FILES: [&str; 11] = [
    "deribit/deribit_options_snapshot_20251230T173115Z.csv",
    "deribit/deribit_options_snapshot_20260215T153420Z.csv",
    "deribit/deribit_options_snapshot_20260415T161504Z.csv",
    "deribit/deribit_api_book_20200521.csv",
    "spx_gatheral/spx_ivols_20050915.csv",
    "spx_gatheral/spx_ivols_20170424.csv",
    "spx_gatheral/spx_ivols_20170519.csv",
    "spx_gatheral/spx_ivols_20191220.csv",
    "spx_gatheral/spx_optionmetrics_20050915.csv",
    "spx_gatheral/spx_optionmetrics_20110915.csv",
    "spx_cboe_2011/SPX-Options-24jan2011.csv",
];
