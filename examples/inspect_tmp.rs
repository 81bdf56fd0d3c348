//! scratch
use volfit::quotes::{Format, read_chains};
use volfit::surface::{SurfaceOptions, calibrate_surface};
fn main() {
    let files = ["deribit/deribit_options_snapshot_20251230T173115Z.csv","deribit/deribit_options_snapshot_20260215T153420Z.csv","deribit/deribit_options_snapshot_20260415T161504Z.csv","deribit/deribit_api_book_20200521.csv","spx_gatheral/spx_ivols_20050915.csv","spx_gatheral/spx_ivols_20170424.csv","spx_gatheral/spx_ivols_20170519.csv","spx_gatheral/spx_ivols_20191220.csv","spx_gatheral/spx_optionmetrics_20050915.csv","spx_gatheral/spx_optionmetrics_20110915.csv","spx_cboe_2011/SPX-Options-24jan2011.csv"];
    for f in files {
        let (chains, _) = read_chains(std::path::Path::new("../shared/data").join(f), Format::Auto).unwrap();
        let mut n = 0; let mut c = [0usize; 4];
        for ch in &chains {
            let (_, r) = calibrate_surface(ch, &SurfaceOptions::default()).unwrap();
            for s in &r.slices { for q in &s.quotes {
                n += 1;
                let (Some(b), Some(a)) = (q.bid_iv, q.ask_iv) else { continue };
                let half = (0.5*(a-b)).max(1e-4);
                let e = (q.fit_iv - q.mid_iv).abs();
                let r = e / half;
                if r > 10.0 && e > 0.03 { c[0]+=1 }
                if r > 20.0 && e > 0.05 { c[1]+=1 }
                if r > 50.0 && e > 0.10 { c[2]+=1 }
                if e > 0.10 { c[3]+=1 }
            }}
        }
        println!("{f}: {n} quotes; r>10&e>3pt {}; r>20&e>5pt {}; r>50&e>10pt {}; e>10pt {}", c[0], c[1], c[2], c[3]);
    }
}
